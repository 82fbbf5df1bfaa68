"""The CCASS-style ISO 15022 participant gateway (see README.md, "ISO 15022 gateway").

| module | job |
|---|---|
| `framing.py` | 4-byte big-endian length prefix + ASCII message; bad frames as values |
| `accounts.py` | safekeeping accounts: `B01234` or `B01234-<suffix>`, owned by participant B01234 |
| `refdata.py` | snapshot of participants, securities (by stock code and ISIN), currencies |
| `mapping.py` | MT540-543 / MT530 -> SI legs, cancellations, hold/release/partial; rejections with reasons |
| `statements.py` | our MT549 statement request; MT535/536 from chain balances and settled legs |
| `replies.py` | the host's outbound messages (548s, references, envelopes); one-line summaries |
| `settler.py` | store + chain operations: add obligations (once per pair), real-time DvP, batch runs |
| `worker.py` | where the settler runs: a child process (default) or a thread; calls by name, in order |
| `journal.py` | accepted messages and their acks, appended; replayed on start |
| `engine.py` | inbound -> ack -> SI book -> settlement -> pushes; idempotency; operator commands |
| `session.py` | one connection: bounded outbound queue, writer task, slow-consumer drop |
| `server.py` | TLS listener (mutual TLS, CN = participant id), routing, mailboxes, timers, signals |
| `certs.py` | local CA, server and participant certificates (EC P-256) |
| `client.py` | the participant side (`ledgerclear pss send`, tests, benchmark) |
| `market.py` | `--setup-demo-market`: fresh deployment with the certificate holders funded |
"""
