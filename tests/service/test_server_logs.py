"""The access log: uvicorn's line (client, request line, status), formatted by logging.Formatter."""

from __future__ import annotations

import logging

import pytest
import uvicorn

from api.service.server_logs import log_config


def test_an_access_line(capsys: pytest.CaptureFixture[str]) -> None:
    uvicorn.Config(app=lambda *_: None, log_config=log_config())  # configures logging, as uvicorn.run does
    access = logging.getLogger("uvicorn.access")
    try:
        assert all(type(h.formatter) is logging.Formatter for h in access.handlers)
        # the message and arguments uvicorn's HTTP protocols log each response with
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5555", "GET", "/v1/instructions?limit=20", "1.1", 200)
        assert capsys.readouterr().out == 'INFO:     127.0.0.1:5555 - "GET /v1/instructions?limit=20 HTTP/1.1" 200\n'
    finally:
        for h in list(access.handlers):
            access.removeHandler(h)
