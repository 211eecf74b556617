"""A local HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API, as `vllm serve` does: a test
fixture standing in for the paper's judge endpoint (Qwen2.5-14B-Instruct behind vLLM), not a mock of lmmr1.

Its "model" answers a judge prompt with the last option letter or number of the response it was shown, so
replies are deterministic. `fail_first` / `status` / `delay` / `malformed` script the faults a real endpoint has.
Run it by hand: `python tests/evaluation/chat_stub.py 8001` serves http://127.0.0.1:8001/v1 until interrupted.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def stub_reply(prompt: str) -> str:
    """The stub model: the last standalone option letter, else the last number, of the shown response."""
    response = prompt.rsplit("\nResponse: ", 1)[-1].rsplit("\nFinal answer:", 1)[0]
    letters = re.findall(r"\b([A-E])\b", response)
    numbers = re.findall(r"-?\d+(?:\.\d+)?", response)
    if letters:
        return letters[-1]
    return numbers[-1] if numbers else "null"


class ChatStub:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first = 0  # answer this many requests with HTTP 503 before serving
        self.status = 200  # a fixed error status for every request (e.g. 400)
        self.delay = 0.0  # seconds to wait before answering
        self.malformed = False  # answer 200 with a body that is not a chat completion
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                if stub.delay:
                    time.sleep(stub.delay)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": f"no route {self.path}"})
                if stub.fail_first > 0:
                    stub.fail_first -= 1
                    return self._send(503, {"error": "server busy"})
                if stub.status != 200:
                    return self._send(stub.status, {"error": "bad request"})
                if stub.malformed:
                    return self._send(200, {"unexpected": True})
                reply = stub_reply(body["messages"][-1]["content"])
                self._send(
                    200,
                    {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChatStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    stub = ChatStub(int(sys.argv[1]) if len(sys.argv) > 1 else 8001)
    print(f"serving {stub.url}", flush=True)
    stub.server.serve_forever()
