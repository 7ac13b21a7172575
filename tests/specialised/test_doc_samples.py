"""The Python samples of Model Studio's documentation for documents (qwen-long), OCR, Qwen-MT, deep research,
partial mode and log probabilities, as the docs write them, with only the host changed to the emulator's.

The samples are quoted as `shared/reference/dashscope-specialised.md` and `dashscope-api.md` describe them (the
request shapes, SDK calls and the fields they read); file names and URLs are the docs' own where they give them.
"""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from http import HTTPStatus
from pathlib import Path

import dashscope
import pytest
from dashscope.api_entities.aio_session import close_shared_aio_session
from openai import OpenAI

from ..conftest import KEY


@pytest.fixture
def compat(emu, monkeypatch):
    """The docs' client: OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=<host>/compatible-mode/v1)."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    return emu.url + "/compatible-mode/v1"


@pytest.fixture
def native(emu, monkeypatch):
    """The docs' dashscope setup: dashscope.base_http_api_url = <host>/api/v1."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    monkeypatch.setattr(dashscope, "base_http_api_url", emu.url + "/api/v1")
    return emu.url + "/api/v1"


@pytest.fixture
def docx(tmp_path):
    """A small .docx (a zip, as the real format is) under the name the docs' sample uploads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document>百炼手机产品介绍</w:document>")
    path = tmp_path / "百炼系列手机产品介绍.docx"
    path.write_bytes(buffer.getvalue())
    return path


def test_qwen_long_upload_then_ask_streamed(compat, docx, emu):
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    file_object = client.files.create(file=Path(docx), purpose="file-extract")
    assert file_object.id.startswith("file-fe-")
    completion = client.chat.completions.create(
        model="qwen-long",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "system", "content": f"fileid://{file_object.id}"},
            {"role": "user", "content": "这篇文章讲了什么？"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    full_content = ""
    for chunk in completion:
        if chunk.choices and chunk.choices[0].delta.content:
            full_content += chunk.choices[0].delta.content
    assert "百炼系列手机产品介绍.docx" in full_content
    emu.state.files.pop(file_object.id)


def test_qwen_long_several_files_and_the_file_management_calls(compat, tmp_path, emu):
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    ids = []
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"document {name}")
        ids.append(client.files.create(file=Path(tmp_path / name), purpose="file-extract").id)
    completion = client.chat.completions.create(
        model="qwen-long",
        messages=[{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "system", "content": f"fileid://{ids[0]},fileid://{ids[1]}"},
                  {"role": "user", "content": "Compare the two documents."}])
    assert "I read 2 documents" in completion.choices[0].message.content
    assert completion.usage.prompt_tokens > 0
    assert client.files.retrieve(ids[0]).status == "processed"
    assert {f.id for f in client.files.list()} >= set(ids)
    assert all(client.files.delete(file_id).deleted for file_id in ids)


def test_qwen_long_unknown_file_id_is_a_400(compat):
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat, max_retries=0)
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen-long", messages=[
            {"role": "system", "content": "fileid://file-fe-xxx"}, {"role": "user", "content": "Summarise."}])
    assert "file-fe-xxx" in caught.value.message


def test_qwen_mt_openai_sample_with_terms_memory_and_domains(compat):
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    messages = [{"role": "user", "content": "我看到这个视频后没有笑"}]
    translation_options = {"source_lang": "auto", "target_lang": "English"}
    completion = client.chat.completions.create(model="qwen-mt-plus", messages=messages,
                                                extra_body={"translation_options": translation_options})
    assert completion.choices[0].message.content == "[English, emulated] 我看到这个视频后没有笑"
    translation_options = {
        "source_lang": "Chinese", "target_lang": "English",
        "terms": [{"source": "博客园", "target": "cnblogs"}],
        "tm_list": [{"source": "代码改变世界", "target": "Coding changes world"}],
        "domains": "This text is a promotion.",
    }
    stream = client.chat.completions.create(model="qwen-mt-turbo", stream=True,
                                            messages=[{"role": "user", "content": "博客园的理念"}],
                                            extra_body={"translation_options": translation_options})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "[English, emulated] cnblogs的理念"


def test_qwen_mt_dashscope_sample(native):
    messages = [{"role": "user", "content": "我看到这个视频后没有笑"}]
    translation_options = {"source_lang": "auto", "target_lang": "English"}
    response = dashscope.Generation.call(
        api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-mt-plus", messages=messages, result_format="message",
        translation_options=translation_options)
    assert response.status_code == HTTPStatus.OK
    assert response.output.choices[0].message.content == "[English, emulated] 我看到这个视频后没有笑"
    assert response.output.model_name == "qwen-mt-plus"


def test_ocr_key_information_extraction_dashscope_sample(native):
    messages = [{"role": "user", "content": [{
        "image": "http://duguang-labelling.oss-cn-shanghai.aliyuncs.com/demo_ocr/receipt_zh_demo.jpg",
        "min_pixels": 32 * 32 * 3, "max_pixels": 32 * 32 * 8192, "enable_rotate": False}]}]
    response = dashscope.MultiModalConversation.call(
        api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-vl-ocr-latest", messages=messages,
        ocr_options={"task": "key_information_extraction",
                     "task_config": {"result_schema": {"乘车日期": "对应图中乘车日期时间，格式为年-月-日",
                                                       "发票": {"发票代码": "提取图中的发票代码"}}}})
    assert response.status_code == HTTPStatus.OK
    content = response["output"]["choices"][0]["message"].content[0]
    assert content["ocr_result"]["kv_result"] == {"乘车日期": "emulated 乘车日期", "发票": {"发票代码": "emulated 发票代码"}}
    assert content["text"].startswith("```json")


@pytest.mark.parametrize("task", ["text_recognition", "table_parsing", "formula_recognition", "document_parsing",
                                  "advanced_recognition", "multi_lan"])
def test_ocr_built_in_tasks_dashscope_sample_streamed(task, native):
    messages = [{"role": "user", "content": [{"image": "https://example.com/page.png"}]}]
    responses = dashscope.MultiModalConversation.call(
        api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-vl-ocr-latest", messages=messages,
        ocr_options={"task": task}, stream=True, incremental_output=True)
    text = "".join(r["output"]["choices"][0]["message"].content[0]["text"] for r in responses
                   if r["output"]["choices"][0]["message"].content)
    assert text


def test_ocr_openai_sample_with_its_own_prompt(compat):
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    completion = client.chat.completions.create(model="qwen-vl-ocr-latest", messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/receipt.jpg"},
         "min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 8192},
        {"type": "text", "text": "Please output only the text content from the image without any additional "
                                 "descriptions or formatting."}]}])
    assert completion.choices[0].message.content


def test_deep_research_two_step_dashscope_sample(native):
    def call(messages):
        phases, content, references = [], "", []
        responses = dashscope.Generation.call(api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-deep-research",
                                              messages=messages, stream=True)
        for response in responses:
            assert response.status_code == HTTPStatus.OK
            if hasattr(response, "output") and response.output:
                message = response.output.get("message", {})
                phase, status = message.get("phase"), message.get("status")
                if phase != (phases[-1] if phases else None):
                    phases.append(phase)
                content += message.get("content", "") if phase == "answer" else ""
                references += message.get("extra", {}).get("deep_research", {}).get("references", [])
                if phase == "answer" and status == "finished":
                    break
        return phases, content, references

    topic = [{"role": "user", "content": "研究一下人工智能在教育中的应用"}]
    phases, question, _ = call(topic)
    assert phases == ["answer"] and question
    phases, report, references = call(topic + [{"role": "assistant", "content": question},
                                               {"role": "user", "content": "我主要关注个性化学习方面的应用"}])
    assert phases[:2] == ["ResearchPlanning", "WebResearch"] and phases[-1] == "answer"
    assert report.startswith("# ") and [r["index_number"] for r in references] == [1, 2, 3, 4]


def test_deep_research_summary_report_through_aio_generation(native):
    async def research():
        messages = [{"role": "user", "content": "AI in education"}, {"role": "assistant", "content": "Which part?"},
                    {"role": "user", "content": "Personalised learning."}]
        responses = await dashscope.AioGeneration.call(
            api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-deep-research", messages=messages, stream=True,
            output_format="model_summary_report")
        try:
            return "".join([r.output.get("message", {}).get("content", "") async for r in responses
                            if r.output.get("message", {}).get("phase") == "answer"])
        finally:  # the SDK pools a session per event loop; the sample's loop ends here
            await close_shared_aio_session()

    report = asyncio.run(research())
    assert "## Summary" in report and "## Background" not in report


def test_partial_mode_openai_and_dashscope_samples(compat, native):
    prefix = "def calculate_fibonacci(n):\n    if n <= 1:\n        return n\n    else:\n"
    messages = [{"role": "user", "content": "请补全这个斐波那契函数，勿添加其它内容"},
                {"role": "assistant", "content": prefix, "partial": True}]
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    completion = client.chat.completions.create(model="qwen-plus", messages=messages)
    assert completion.choices[0].message.content and not completion.choices[0].message.content.startswith(prefix)
    response = dashscope.Generation.call(api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-plus",
                                         messages=messages, result_format="message")
    assert response.output.choices[0].message.content == completion.choices[0].message.content


def test_logprobs_openai_and_dashscope_samples(compat, native):
    messages = [{"role": "user", "content": "Who are you?"}]
    client = OpenAI(api_key=os.getenv("DASHSCOPE_API_KEY"), base_url=compat)
    completion = client.chat.completions.create(model="qwen-plus", messages=messages, logprobs=True, top_logprobs=2)
    content = completion.choices[0].logprobs.content
    assert "".join(t.token for t in content) == completion.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)
    response = dashscope.Generation.call(api_key=os.getenv("DASHSCOPE_API_KEY"), model="qwen-plus",
                                         messages=messages, result_format="message", logprobs=True, top_logprobs=2)
    native_content = response.output.choices[0].logprobs["content"]
    assert [t["token"] for t in native_content] == [t.token for t in content]
