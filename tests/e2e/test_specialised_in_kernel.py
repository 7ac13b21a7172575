"""The specialised options of %%qwen in a real kernel against the emulator: what a saved notebook keeps."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.pictures import house_png

pytestmark = pytest.mark.e2e

_ACTIVE = re.compile(r"<script|\bon\w+\s*=|javascript:", re.IGNORECASE)


def test_logprobs_shade_each_token_with_its_alternatives_and_no_script(kernel):
    run = kernel.execute("%%qwen --logprobs 2\nWho are you?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    html = run.final["text/html"]
    assert html.count('class="qwen-token"') > 5 and "title=" in html and "background:color-mix" in html
    assert "hover a token" in html and not _ACTIVE.search(html)
    check = kernel.execute("e = _qwen.logprobs[0]; print(len(e.top), e['token'] == e.token, "
                           "len(_qwen.logprobs_frame()) == len(_qwen.logprobs))")
    assert check.stdout.split() == ["2", "True", "True"]


def test_a_one_line_logprobs_keeps_the_first_word_of_the_question(kernel, emu):
    run = kernel.execute("%qwen --logprobs What is 2+2?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    body = emu.state.received[-1]["body"]
    assert body["top_logprobs"] == 3 and body["messages"][-1]["content"] == "What is 2+2?"
    kernel.execute("%qwen --logprobs 1 What is 2+2?")
    assert emu.state.received[-1]["body"]["top_logprobs"] == 1


def test_compare_streams_side_by_side_and_keeps_one_result_per_model(kernel):
    run = kernel.execute("%%qwen --compare qwen-plus,qwen-max -o both\nWho are you?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    html = run.final["text/html"]
    assert 'class="qwen-compare"' in html and html.count('class="qwen-footer"') == 2
    check = kernel.execute("print(type(both).__name__, both is _qwen, [r.model for r in both], "
                           "all(r.usage.output_tokens for r in both))")
    assert check.stdout.split() == ["Comparison", "True", "['qwen-plus',", "'qwen-max']", "True"]


def test_compare_sends_the_chats_context_to_every_model(kernel, emu):
    kernel.execute("%%qwen\nMy name is Ada.")
    emu.state.received.clear()
    kernel.execute("%%qwen --compare qwen-plus,qwen-flash\nWhat is my name?")
    bodies = [r["body"] for r in emu.state.received]
    assert len(bodies) == 2 and all(len(b["messages"]) == 3 for b in bodies)


def test_a_failed_model_in_a_comparison_ends_the_cell_in_error(kernel):
    run = kernel.execute("%%qwen --compare qwen-plus,qwen-max~500\nWho are you?")
    assert run.reply["content"]["status"] == "error"
    assert "qwen-plus" in run.final["text/html"]


def test_an_interrupt_ends_a_comparison_whose_model_stalled_at_once(kernel):
    interrupted_at: list[float] = []

    def interrupt_after_text(msg):
        if msg["msg_type"] == "update_display_data" and "hello" in str(msg["content"]) and not interrupted_at:
            interrupted_at.append(time.perf_counter())
            threading.Thread(target=kernel.interrupt).start()

    run = kernel.execute("%%qwen --compare qwen-plus,qwen-flash~stall=2\nhello there dear friend",
                         on_message=interrupt_after_text)
    assert interrupted_at and run.messages[-1]["received"] - interrupted_at[0] < 1.5
    assert run.reply["content"]["ename"] == "Interrupted"
    assert run.final["text/html"].count('class="qwen-footer"') == 2
    check = kernel.execute("stalled = _qwen['qwen-flash~stall=2']; print(stalled.interrupted, bool(stalled.text))")
    assert check.stdout.split() == ["True", "True"], check.stderr + str(check.of("error"))


def test_translate_a_cell_with_terms_from_a_variable(kernel, emu):
    kernel.execute('glossary = {"模型": "model"}')
    run = kernel.execute("%%qwen --to English --terms {glossary} --domain 'This text is technical.'\n这个模型很好")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert "[English, emulated] 这个model很好" in run.final["text/plain"]
    options = emu.state.received[-1]["body"]["translation_options"]
    assert options["terms"] == [{"source": "模型", "target": "model"}] and options["domains"] == "This text is technical."


def test_pasted_json_is_an_option_value(kernel, emu):
    run = kernel.execute("%%qwen --to French --terms '{\"AI\": \"IA\"}'\nAI is great")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert emu.state.received[-1]["body"]["translation_options"]["terms"] == [{"source": "AI", "target": "IA"}]
    run = kernel.execute(f"%qwen --ocr key_information_extraction -i {house_png()} --fields {{\"total\":\"x\"}}")
    assert run.reply["content"]["status"] == "ok", run.stderr
    sent = emu.state.received[-1]["body"]["parameters"]["ocr_options"]
    assert sent["task_config"]["result_schema"] == {"total": "x"}


def test_translation_options_without_to_fail_in_one_line(kernel):
    run = kernel.execute("%%qwen --from French\nBonjour")
    assert run.reply["content"]["status"] == "error"
    assert run.stderr.strip().startswith("UsageError: --from goes with --to")


def test_translating_a_document_fails_in_one_line_before_upload(kernel, emu, tmp_path):
    (tmp_path / "notes.txt").write_text("Bonjour")
    sent = len(emu.state.received)
    run = kernel.execute(f"%%qwen --to English --file {tmp_path / 'notes.txt'}\nTranslate it.")
    assert run.reply["content"]["status"] == "error"
    assert "Translation takes the text alone" in run.of("error")[0]["content"]["traceback"][0]
    assert len(emu.state.received) == sent


def test_ocr_table_renders_as_a_table_and_is_a_dataframe(kernel):
    run = kernel.execute(f"%qwen --ocr table_parsing -i {house_png()}", timeout=60)  # a picture alone asks
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert 'class="qwen-ocr-table"' in run.final["text/html"]
    check = kernel.execute("print(type(_qwen.ocr.tables[0]).__name__, list(_qwen.ocr.tables[0].columns))")
    assert check.stdout.strip() == "DataFrame ['Item', 'Qty', 'Price']"


def test_preset_and_prefix_from_the_magic(kernel, emu):
    run = kernel.execute("%%qwen --preset factual --prefix 'The answer is'\nWhat is 2+2?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    body = emu.state.received[-1]["body"]
    assert body["temperature"] == 0.1 and body["messages"][-1]["partial"] is True
    assert "The answer is woke slowly" in run.final["text/plain"]


def test_file_uploads_once_and_files_lists_and_deletes(kernel, emu, tmp_path):
    document = tmp_path / "minutes.md"
    document.write_text("# Minutes\nWe agreed to ship on Friday.\n")
    for _ in range(2):
        run = kernel.execute(f"%%qwen --file {document}\nWhen do we ship?")
        assert run.reply["content"]["status"] == "ok", run.stderr
        assert "I read 1 document: minutes.md" in run.final["text/plain"]
    assert len([f for f in emu.state.files.values() if f["object"]["filename"] == "minutes.md"]) == 1
    listing = kernel.execute("%qwen files")
    assert "minutes.md" in listing.stdout and "processed" in listing.stdout
    kernel.execute("%qwen files delete all")
    assert "No documents uploaded" in kernel.execute("%qwen files").stdout


def test_a_chats_document_goes_with_its_follow_up_questions(kernel, emu, tmp_path):
    document = tmp_path / "minutes.md"
    document.write_text("# Minutes\nWe agreed to ship on Friday.\n")
    first = kernel.execute(f"%%qwen -c minutes --new --file {document}\nWhen do we ship?", cell_id="minutes-1")
    assert first.reply["content"]["status"] == "ok", first.stderr
    (file_id,) = [i for i, f in emu.state.files.items() if f["object"]["filename"] == "minutes.md"]

    def sent() -> tuple[str, list[dict]]:
        body = emu.state.received[-1]["body"]
        return body["model"], body.get("messages") or body["input"]["messages"]

    follow = kernel.execute("%%qwen -c minutes\nWho agreed?", cell_id="minutes-2")
    assert follow.reply["content"]["status"] == "ok", follow.stderr
    assert "I read 1 document: minutes.md" in follow.final["text/plain"]
    model, messages = sent()
    assert model == "qwen-long" and messages[0] == {"role": "system", "content": f"fileid://{file_id}"}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    kernel.execute("%%qwen -c minutes -m qwen-plus\nA haiku about Fridays.", cell_id="minutes-3")  # named: plain
    model, messages = sent()
    assert model == "qwen-plus" and not [m for m in messages if m["role"] == "system"]
    kernel.execute("%%qwen -c minutes\nAnd one about rain.", cell_id="minutes-4")  # the chat has moved on
    model, messages = sent()
    assert model == "qwen-plus" and not [m for m in messages if m["role"] == "system"]
    kernel.execute("%%qwen -c minutes -m qwen-long\nWhat did we agree?", cell_id="minutes-5")  # asked of a reader
    model, messages = sent()
    assert model == "qwen-long" and messages[0] == {"role": "system", "content": f"fileid://{file_id}"}
    kernel.execute("%%qwen -c elsewhere\nHello", cell_id="minutes-6")  # another chat has no documents
    model, messages = sent()
    assert model != "qwen-long" and not [m for m in messages if m["role"] == "system"]


def test_a_follow_up_keeps_its_reader_and_gives_way_to_options_and_deleted_files(kernel, emu, tmp_path):
    document = tmp_path / "minutes.md"
    document.write_text("# Minutes\nWe agreed to ship on Friday.\n")

    def sent() -> tuple[str, list[str]]:
        body = emu.state.received[-1]["body"]
        messages = body.get("messages") or body["input"]["messages"]
        return body["model"], [m["content"] for m in messages if m["role"] == "system"]

    asked = kernel.execute(f"%%qwen -c doc --new -m qwen-doc-turbo --file {document}\nWhen?", cell_id="doc-1")
    assert asked.reply["content"]["status"] == "ok", asked.stderr
    (first_id,) = [i for i, f in emu.state.files.items() if f["object"]["filename"] == "minutes.md"]
    kernel.execute("%%qwen -c doc\nWho agreed?", cell_id="doc-2")
    assert sent() == ("qwen-doc-turbo", [f"fileid://{first_id}"])  # the model that read it answers again
    kernel.execute("%%qwen -c doc --think\nWhy Friday?", cell_id="doc-3")  # wants what it does not do
    assert sent() == ("qwen-plus", [])
    kernel.execute("%qwen files delete all")
    again = kernel.execute(f"%%qwen -c doc --file {document}\nWhen, again?", cell_id="doc-1")  # re-run: new upload
    assert again.reply["content"]["status"] == "ok", again.stderr
    (second_id,) = [i for i, f in emu.state.files.items() if f["object"]["filename"] == "minutes.md"]
    assert second_id != first_id and sent() == ("qwen-long", [f"fileid://{second_id}"])  # not the deleted one
    kernel.execute("%qwen files delete all")
    after = kernel.execute("%%qwen -c doc\nAnd then?", cell_id="doc-4")  # nothing left to follow up on
    assert after.reply["content"]["status"] == "ok", after.stderr
    assert sent() == ("qwen-plus", [])


def test_an_unsupported_file_fails_in_one_line_before_upload(kernel, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0")
    run = kernel.execute(f"%%qwen --file {clip}\nSummarise.")
    assert run.reply["content"]["status"] == "error"
    assert "qwen-long reads" in run.of("error")[0]["content"]["traceback"][0]


def test_deep_research_in_two_turns_shows_its_phases_live(kernel):
    first = kernel.execute("%%qwen -m qwen-deep-research -c research --new\nBattery recycling in Europe")
    assert "a few questions first" in first.final["text/plain"]
    run = kernel.execute("%%qwen -m qwen-deep-research -c research\nCosts and policy, for a ministry.")
    assert run.reply["content"]["status"] == "ok", run.stderr
    live = " ".join(str(m["content"].get("data", {})) for m in run.display_messages)
    assert "Planning" in live and "Researching the web" in live
    final = run.final["text/html"]
    assert "<h1>" in final and 'class="qwen-sources"' in final and "Researching the web" not in final
