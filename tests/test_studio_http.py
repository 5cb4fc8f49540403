"""The studio's HTTP layer: what a hostile or careless client gets back.

Garbage uploads, paths that try to leave the workdir and malformed requests must each
get a 4xx with a one-line ``{"error": ...}`` and leave the server serving; what is made
must survive a restart; two writers of one piece must not lose each other's versions.
"""
from __future__ import annotations

import dataclasses
import io
import json
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from tunesmith.errors import RequestError  # noqa: E402
from tunesmith.sample import GenerationRequest, resolve  # noqa: E402
from tunesmith.studio import create_app  # noqa: E402
from tunesmith.studio.fields import ACTION_FIELDS, NOT_IN_FORM, all_fields, build_request  # noqa: E402

PROMPT = "real-midi/CPJKU__partitura/mozart_k265_var1.mid"


@pytest.fixture
def client(tmp_path):
    """A studio without its drafting thread (these tests never draft)."""
    app = create_app(tmp_path / "work", start=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


def still_serving(client) -> None:
    assert client.get("/api/info").status_code == 200


def upload(client, kind, name, data, **fields):
    return client.post("/api/uploads", data={"kind": kind, **fields},
                       files={"file": (name, data, "application/octet-stream")})


def test_the_form_offers_every_request_field_and_builds_what_the_cli_builds():
    names = {f.name for f in all_fields()} | set(ACTION_FIELDS) | set(NOT_IN_FORM)
    for f in dataclasses.fields(GenerationRequest):  # numbers and switches are always offered;
        if isinstance(f.default, (bool, int, float)) and not isinstance(f.default, str):  # text waits
            assert f.name in names, f.name                                         # for a declaration
    assert {"chords", "form", "dynamics", "lyrics", "key", "programs"} <= names
    assert "chords_from" not in {f.name for f in all_fields()}  # a server path: never from a page
    assert build_request({"end_on_tonic": "auto"})[0].end_on_tonic is None
    assert build_request({"end_on_tonic": "no"})[0].end_on_tonic is False
    with pytest.raises(RequestError, match="not one of"):
        build_request({"dynamics": "loud"})
    request, checks = build_request({"bars": "8", "key": "D dorian", "tempo": "96", "programs": "flute, cello",
                                     "notes_per_bar": "4-12", "chromatic": True, "seed": "7",
                                     "keep": "", "original_only": True})
    assert (request.bars, request.key, request.tempo, request.programs) == (8, "D dorian", 96.0, ["flute", "cello"])
    assert request.notes_per_bar == (4, 12) and request.chromatic and request.seed == 7 and request.keep is None
    assert checks == {"max_copied_bars": 4.0, "original_only": True}
    assert build_request({"bars": "auto"})[0].bars is None
    assert build_request({"lyrics": "Twin-kle star"})[0].bars is None  # the words set the length


def test_the_page_and_its_scripts_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "/static/studio.js" in page.text
    assert "class Roll" in client.get("/static/studio.js").text
    info = client.get("/api/info").json()
    assert [f["name"] for f in info["fields"]][:3] == ["bars", "key", "time_signature"]


@pytest.mark.parametrize("form, expected", [
    ({"key": "H major"}, None),                  # the CLI's own message, from resolve()
    ({"tempo": "1000"}, None),
    ({"pitch_range": "C6-C4"}, None),
    ({"tempo": "fast"}, "Tempo: 'fast' is not a number"),
    ({"bogus": 1}, "unknown form fields: bogus"),
    ({"chords_from": "/etc/passwd"}, "unknown form fields: chords_from"),
    ({"prompt": "/etc/passwd"}, "unknown form fields: prompt"),
    ({"programs": "kazoo of doom"}, None),
    ({"num_samples": "100000"}, "at most 256 drafts"),
])
def test_a_bad_request_gets_the_same_one_line_reason_as_the_cli(client, form, expected):
    message = one_line_error(client.post("/api/jobs", json={"form": form}), 400)
    if expected is None:
        with pytest.raises(RequestError) as cli:
            resolve(build_request(form)[0])
        expected = cli.value.reason
    assert expected in message
    still_serving(client)


@pytest.mark.parametrize("body, headers, status", [
    (b"{not json", {"content-type": "application/json"}, 400),
    (b"[1, 2]", {"content-type": "application/json"}, 400),
    (b'{"form": {}}', {"content-type": "text/plain"}, 400),
    (b"\xff\xfe\x00garbage", {"content-type": "application/json"}, 400),
    (b'{"action": "explode"}', {"content-type": "application/json"}, 400),
    (b'{"form": "bars=8"}', {"content-type": "application/json"}, 400),
    (b'{"form": {"bars": [1, 2]}}', {"content-type": "application/json"}, 400),
    (b'{"action": "bars", "piece": "../../etc"}', {"content-type": "application/json"}, 404),
])
def test_malformed_requests_are_4xx_with_one_line(client, body, headers, status):
    one_line_error(client.post("/api/jobs", content=body, headers=headers), status)
    still_serving(client)


def test_a_body_too_large_is_refused_before_it_is_read(client):
    response = client.post("/api/jobs", content=b"{}", headers={"content-type": "application/json",
                                                                 "content-length": "999999999"})
    assert response.status_code in (400, 413)  # the HTTP stack may refuse the lie itself
    still_serving(client)


@pytest.mark.parametrize("path", [
    "/api/pieces/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/pieces/%2e%2e/versions/1/mid",
    "/api/jobs/..%2Fpieces/drafts/0/mid",
    "/api/jobs/0123456789ab",                   # well-formed, but no such job
    "/api/pieces/0123456789ab/versions/1/wav",
    "/static/..%2Fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/api/uploads/../../secret",
])
def test_paths_that_try_to_leave_the_workdir_are_404(client, tmp_path, path):
    (tmp_path / "secret").write_text("do not serve")
    response = client.get(path)
    assert response.status_code in (404, 405), response.text
    assert "do not serve" not in response.text and "root:" not in response.text
    still_serving(client)


def test_garbage_uploads_are_a_message_and_leave_nothing_behind(client, tmp_path, data_dir):
    uploads = tmp_path / "work" / "uploads"
    truncated = (data_dir / PROMPT).read_bytes()[:60]
    cases = [
        ("prompt", "song.mid", b"MThd\x00\x00\x00\x06garbage" * 50, "prompt"),
        ("prompt", "song.mid", truncated, "prompt"),
        ("prompt", "song.musicxml", b"<score-partwise><part>", "prompt"),
        ("prompt", "song.exe", b"MZ\x90\x00", "must be one of"),
        ("prompt", "song.mid", b"", "empty"),
        ("vocals", "take.wav", b"RIFF\x00\x00\x00\x00WAVEjunk", "vocal take"),
        ("lyrics", "words.txt", b"\xff\xfe\xfa not utf-8 \x80", "UTF-8"),
        ("nonsense", "x.mid", b"x", "unknown upload kind"),
    ]
    for kind, name, data, words in cases:
        message = one_line_error(upload(client, kind, name, data), 400)
        assert words in message or kind == "prompt", message
        assert str(tmp_path) not in message  # no server paths on the page
        still_serving(client)
    assert not any(uploads.iterdir())  # refused files are not kept


def test_malformed_and_oversized_uploads(client):
    bad_form = client.post("/api/uploads", content=b"--x\r\nnonsense",
                           headers={"content-type": "multipart/form-data; boundary=x"})
    one_line_error(bad_form, 400)
    one_line_error(client.post("/api/uploads", data={"kind": "prompt"}), 400)
    huge = client.post("/api/uploads", content=b"x", headers={
        "content-type": "multipart/form-data; boundary=x", "content-length": str(10**9)})
    assert huge.status_code in (400, 413)
    big_lyrics = upload(client, "lyrics", "words.txt", b"la " * 50_000)
    assert "at most" in one_line_error(big_lyrics, 400)
    still_serving(client)


def test_an_uploaded_prompt_becomes_a_piece_read_by_tunesmiths_reader(client, data_dir, tmp_path):
    import tunesmith

    response = upload(client, "prompt", "mozart.mid", (data_dir / PROMPT).read_bytes())
    assert response.status_code == 200, response.text
    piece = response.json()["piece"]
    assert piece["current"] == 1 and piece["versions"][0]["action"] == "upload"
    source = tunesmith.read(data_dir / PROMPT)
    roll = piece["roll"]
    assert sum(len(t["notes"]) // 4 for t in roll["tracks"]) == source.note_count()
    kept = tunesmith.read(tmp_path / "work" / "pieces" / piece["id"] / "v1" / "score.mid")
    assert kept.note_count() == source.note_count()
    midi = client.get(f"/api/pieces/{piece['id']}/versions/1/mid")
    assert midi.status_code == 200 and midi.content[:4] == b"MThd"
    assert "nothing to undo" in one_line_error(client.post(f"/api/pieces/{piece['id']}/undo"), 400)
    one_line_error(client.get(f"/api/pieces/{piece['id']}/versions/1/exe"), 404)
    one_line_error(client.get(f"/api/pieces/{piece['id']}/versions/7/mid"), 404)


def test_lyrics_text_and_a_vocal_take_over_the_piece(client, data_dir):
    import soundfile

    words = "Twin-kle twin-kle lit-tle star\n"
    assert upload(client, "lyrics", "words.txt", words.encode()).json()["upload"]["text"] == words.strip()
    piece = upload(client, "prompt", "m.mid", (data_dir / PROMPT).read_bytes()).json()["piece"]
    plain = client.get(f"/api/pieces/{piece['id']}/versions/1/wav").content
    rate = 22_050  # another rate than the mix: the take is resampled
    take = io.BytesIO()
    soundfile.write(take, 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate * 2) / rate), rate, format="WAV")
    one_line_error(upload(client, "vocals", "take.wav", take.getvalue(), piece=piece["id"], offset="x"), 400)
    response = upload(client, "vocals", "take.wav", take.getvalue(), piece=piece["id"], offset="0.5", gain="-3")
    assert response.status_code == 200, response.text
    assert response.json()["piece"]["vocals"]["offset"] == 0.5
    mixed = client.get(f"/api/pieces/{piece['id']}/versions/1/wav").content
    assert mixed != plain
    audio = soundfile.read(io.BytesIO(mixed))[0]
    assert np.sqrt(np.mean(audio ** 2)) > 0.01
    import zipfile

    stems = zipfile.ZipFile(io.BytesIO(client.get(f"/api/pieces/{piece['id']}/versions/1/stems").content))
    assert any(name.endswith(".vocals.wav") for name in stems.namelist())


def test_requests_from_another_site_are_refused(client):
    response = client.post("/api/jobs", json={"form": {}}, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    response = client.post("/api/jobs", json={"form": {"tempo": "1000"}},
                           headers={"origin": "http://testserver"})
    assert response.status_code == 400  # same origin: answered (and refused on its merits)


def test_a_restart_keeps_pieces_and_ends_interrupted_jobs(tmp_path, data_dir):
    work = tmp_path / "work"
    with TestClient(create_app(work, start=False)) as first:
        piece = upload(first, "prompt", "m.mid", (data_dir / PROMPT).read_bytes()).json()["piece"]
        job = first.post("/api/jobs", json={"form": {"bars": "2", "num_samples": "1"}}).json()
        assert job["status"] == "queued"  # never run: this app has no drafting thread
    with TestClient(create_app(work, start=False)) as second:
        assert [p["id"] for p in second.get("/api/pieces").json()["pieces"]] == [piece["id"]]
        assert second.get(f"/api/pieces/{piece['id']}").json()["roll"]["tracks"]
        assert second.get(f"/api/jobs/{job['id']}").json()["status"] == "interrupted"


def test_two_writers_of_one_piece_keep_every_version(tmp_path, data_dir):
    from tunesmith.studio.workdir import Workdir

    store = Workdir(tmp_path / "work")
    source = data_dir / PROMPT
    piece = store.add_version(None, source, {"action": "upload"})

    def add(i):
        store.add_version(piece["id"], source, {"action": f"writer {i}"})

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = store.load("pieces", piece["id"])
    assert sorted(v["n"] for v in record["versions"]) == list(range(1, 10))
    assert sorted(v["action"] for v in record["versions"][1:]) == [f"writer {i}" for i in range(8)]
    assert all((store.version_folder(piece["id"], n) / "score.mid").is_file() for n in range(1, 10))
    json.loads((store.root / "pieces" / piece["id"] / "piece.json").read_text())


@pytest.mark.slow
def test_drafting_through_the_api_and_cancel_of_a_queued_job(tmp_path):
    app = create_app(tmp_path / "work")
    with TestClient(app) as client:
        first = client.post("/api/jobs", json={"form": {"bars": "2", "num_samples": "2", "seed": "3",
                                                        "key": "G major", "programs": "flute"}}).json()
        second = client.post("/api/jobs", json={"form": {"bars": "2", "num_samples": "2"}}).json()
        assert client.post(f"/api/jobs/{second['id']}/cancel").status_code == 200
        deadline = time.time() + 300
        while client.get(f"/api/jobs/{second['id']}").json()["status"] in ("queued", "running"):
            assert time.time() < deadline
            time.sleep(0.1)
        done, cancelled = (client.get(f"/api/jobs/{j['id']}").json() for j in (first, second))
        assert done["status"] == "done" and [d["seed"] for d in done["drafts"]] == [3, 4]
        assert cancelled["status"] == "cancelled" and cancelled["drafts"] == []
        later = client.get(f"/api/jobs/{first['id']}?since=1").json()  # what the page polls
        assert [d["seed"] for d in later["drafts"]] == [4] and later["drafts_count"] == 2
        one_line_error(client.get(f"/api/jobs/{first['id']}?since=-1"), 400)
        roll = done["drafts"][0]["roll"]
        assert len(roll["bars"]) == 3 and roll["tracks"][0]["program"] == 73  # 2 bars + end; flute
        piece = client.post("/api/choose", json={"job": done["id"], "seed": 4}).json()
        assert piece["versions"][0]["seed"] == 4 and piece["title"].startswith("G major")
        one_line_error(client.post("/api/choose", json={"job": done["id"], "seed": 99}), 404)

        def run(body):
            job = client.post("/api/jobs", json={"form": {"num_samples": "1", "seed": "5"}, **body})
            assert job.status_code == 202, job.text
            while (record := client.get(f"/api/jobs/{job.json()['id']}").json())["status"] in ("queued", "running"):
                assert time.time() < deadline
                time.sleep(0.1)
            assert record["status"] == "done", record["error"]
            return record

        longer = run({"action": "continue", "piece": piece["id"], "count": 2})
        assert len(longer["drafts"][0]["roll"]["bars"]) == 5  # 2 bars + 2 more, then the end
        duet = run({"action": "part", "piece": piece["id"], "program": "acoustic bass"})
        assert [t["program"] for t in duet["drafts"][0]["roll"]["tracks"]] == [73, 32]
        assert duet["request"]["prompt"].endswith("v1/score.mid") and duet["piece"] == piece["id"]
        piece = client.post("/api/choose", json={"job": duet["id"], "seed": 5}).json()
        assert piece["current"] == 2 and len(piece["roll"]["tracks"]) == 2
        assert client.post(f"/api/pieces/{piece['id']}/undo").json()["current"] == 1
        redone = client.post(f"/api/pieces/{piece['id']}/current", json={"version": 2}).json()
        assert redone["current"] == 2 and len(redone["roll"]["tracks"]) == 2  # nothing is lost by undo
        one_line_error(client.post(f"/api/pieces/{piece['id']}/current", json={"version": 3}), 404)
        one_line_error(client.post(f"/api/pieces/{piece['id']}/current", json={"version": True}), 404)


def test_the_roll_the_page_draws_holds_notes_bars_tempos_chords_and_lyrics():
    from tunesmith.harmony import parse_chord
    from tunesmith.harmony.symbols import chord_table
    from tunesmith.score import CHORD_DTYPE, Lyric, Score, Track, make_notes
    from tunesmith.studio.roll import roll_json

    melody = Track("Flute", 73, notes=make_notes([0, 480, 1920], [480, 480, 960], [62, 65, 67], [80, 90, 100]),
                   lyrics=[Lyric(0, "Hal-"), Lyric(480, "le")])
    score = Score(480, [melody], tempos=[(0, 90.0), (1920, 120.0)], time_signatures=[(0, 4, 4)])
    score.chords = chord_table([0, 1920], [parse_chord("Dm"), parse_chord("G7")], CHORD_DTYPE)
    roll = roll_json(score)
    assert roll["tracks"][0]["notes"] == [0, 480, 62, 80, 480, 480, 65, 90, 1920, 960, 67, 100]
    assert roll["bars"] == [0, 1920, 2880] and roll["end"] == 2880  # bar starts, then the end
    assert roll["tempos"] == [[0, 90.0], [1920, 120.0]]
    assert roll["chords"] == [[0, "Dm"], [1920, "G7"]]
    assert roll["lyrics"] == [[0, "Hal-"], [480, "le"]]
    json.dumps(roll)  # what the page gets


def test_the_cli_serves_the_studio_and_refuses_a_taken_port(tmp_path):
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run([sys.executable, "-m", "tunesmith", "studio", "--port", str(port),
                                  "--workdir", str(tmp_path / "w")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
    (tmp_path / "a-file").write_text("")
    not_a_folder = subprocess.run([sys.executable, "-m", "tunesmith", "studio", "--port", str(port),
                                   "--workdir", str(tmp_path / "a-file")], capture_output=True, text=True, timeout=120)
    assert not_a_folder.returncode == 2 and not_a_folder.stderr.count("\n") == 1
    assert "cannot keep the studio's files here" in not_a_folder.stderr
    no_model = subprocess.run([sys.executable, "-m", "tunesmith", "studio", "--port", str(port), "--model",
                               str(tmp_path / "nowhere"), "--workdir", str(tmp_path / "w")],
                              capture_output=True, text=True, timeout=120)
    assert no_model.returncode == 2 and no_model.stderr.count("\n") == 1 and "nowhere" in no_model.stderr
    server = subprocess.Popen([sys.executable, "-m", "tunesmith", "studio", "--port", str(port),
                               "--workdir", str(tmp_path / "w")], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith(f"tunesmith studio: http://127.0.0.1:{port}/")
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/pieces", timeout=5) as answer:
                    assert json.loads(answer.read()) == {"pieces": []}
                    break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/pieces", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as rebinding:  # a DNS-rebinding page is refused
            urllib.request.urlopen(request, timeout=5)
        assert rebinding.value.code == 400
    finally:
        server.terminate()
        server.wait(30)


def test_no_json_body_makes_the_server_answer_500(tmp_path):
    """Any JSON a client sends to any POST endpoint gets an answer below 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    app = create_app(tmp_path / "work", start=False)
    client = TestClient(app, raise_server_exceptions=False)
    scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=30)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)
    names = st.sampled_from([f.name for f in all_fields()] + ["action", "piece", "bars", "job", "seed"])
    forms = st.dictionaries(names, values, max_size=5)
    bodies = st.fixed_dictionaries({}, optional={
        "action": st.sampled_from(["new", "bars", "continue", "part", "x"]) | values,
        "form": forms | values, "piece": st.text(max_size=14) | values, "bars": values,
        "count": values, "program": values, "job": values, "seed": values, "version": values,
        "song": st.dictionaries(st.sampled_from(["lang", "voice", "accompaniment", "x"]), values, max_size=3) | values})

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, path=st.sampled_from(["/api/jobs", "/api/choose", "/api/songs",
                                              "/api/pieces/0123456789ab/current"]))
    def check(body, path):
        response = client.post(path, content=json.dumps(body, allow_nan=True),
                               headers={"content-type": "application/json"})
        assert response.status_code < 500, (body, response.text)
        assert "\n" not in response.text

    check()


def test_a_hummed_take_becomes_a_piece_through_the_prompt_audio_reader(client, tmp_path):
    """What `generate --prompt-audio` reads, the studio reads: a played line -> its notes."""
    from tunesmith.render import render
    from tunesmith.score import Score, Track, make_notes

    pitches = [72, 74, 76, 77, 79, 77, 76, 74]
    line = Score(480, [Track("Flute", 73, notes=make_notes([i * 480 for i in range(8)], [440] * 8, pitches, 90))],
                 tempos=[(0, 100.0)])
    render(line, "wav", tmp_path, stem="take")
    response = upload(client, "hum", "take.wav", (tmp_path / "take.wav").read_bytes(), tempo="100")
    assert response.status_code == 200, response.text
    roll = response.json()["piece"]["roll"]
    heard = [roll["tracks"][0]["notes"][i] for i in range(2, len(roll["tracks"][0]["notes"]), 4)]
    assert heard == pitches
    one_line_error(upload(client, "hum", "take.wav", b"RIFF\x00\x00\x00\x00WAVEjunk"), 400)
    one_line_error(upload(client, "hum", "take.wav", (tmp_path / "take.wav").read_bytes(), tempo="5"), 400)


def test_songs_are_checked_as_tunesmith_song_checks_them_before_queueing(client):
    words = "[Verse]\nTwin-kle twin-kle lit-tle star\nHow I won-der what you are\n"
    queued = client.post("/api/songs", json={"form": {"lyrics": words, "key": "G major", "tempo": "90",
                                                      "num_samples": "2", "seed": "1"},
                                             "song": {"voice": "alto", "accompaniment": "band"}})
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["action"] == "song" and job["total"] == 2 and job["song"]["words"] == words
    assert job["song"]["settings"] == {"key": "G major", "time_signature": "4/4", "chords": None, "seed": 1,
                                       "num_samples": 2, "tempo": 90.0, "voice": "alto", "accompaniment": "band"}
    for song, message in [({}, "Lyrics box"), ({"voice": "kazoo"}, "bad range 'kazoo'"),
                          ({"lang": "xx"}, "unknown language 'xx'"),
                          ({"accompaniment": "kazoo"}, "unknown accompaniment"),
                          ({"mood": "sad"}, "song settings are")]:
        form = {"lyrics": "" if not song else words}
        assert message in one_line_error(client.post("/api/songs", json={"form": form, "song": song}), 400)
    still_serving(client)


def test_no_upload_makes_the_server_answer_500(tmp_path):
    """Random kinds, names, form fields and bytes: always an answer below 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = TestClient(create_app(tmp_path / "work", start=False), raise_server_exceptions=False)
    kinds = st.sampled_from(["prompt", "hum", "lyrics", "vocals", "", "x"])
    names = st.sampled_from(["a.mid", "a.abc", "a.musicxml", "a.wav", "a.txt", "a", "../../a.mid", "a.mid\x00.exe"])
    heads = st.sampled_from([b"", b"MThd\x00\x00\x00\x06", b"RIFF\x00\x00\x00\x00WAVE", b"X:1\nK:C\n", b"<?xml"])
    extra = st.dictionaries(st.sampled_from(["offset", "gain", "tempo", "piece"]),
                            st.text(max_size=8) | st.sampled_from(["nan", "inf", "1e999", "-5"]), max_size=3)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(kind=kinds, name=names, head=heads, body=st.binary(max_size=200), fields=extra)
    def check(kind, name, head, body, fields):
        response = client.post("/api/uploads", data={"kind": kind, **fields},
                               files={"file": (name, head + body, "application/octet-stream")})
        assert response.status_code < 500, response.text

    check()
    assert not [p for p in (tmp_path / "work").rglob("*") if p.is_file() and ".." in p.name]
