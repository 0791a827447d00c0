"""Independent reference for the fidelity test: Python's `email` package (policy.default) reads each message of the
corpus and prints, as one JSON object per line, the values the lake's parsed columns should hold.

Standard library only; the behaviour of `email` is pinned by the Python version (checked below: 3.11), so no
third-party package is involved. Usage: python3 reference.py <folder of .eml files>
"""
import email
import email.policy
import email.utils
import json
import os
import sys

if sys.version_info[:2] != (3, 11):
    sys.exit(f"reference.py is pinned to Python 3.11 (email package behaviour); this is {sys.version.split()[0]}")


def field(fn):
    try:
        return {"value": fn()}
    except Exception as e:  # the reference itself failed on this field: reported, never compared
        return {"error": f"{type(e).__name__}: {e}"}


def addresses(msg, name):
    header = msg[name]
    if header is None:
        return []
    return [{"address": a.addr_spec, "name": a.display_name} for a in header.addresses]


def first_sender(msg):
    found = addresses(msg, "from")
    return found[0] if found else None


def structured(msg, name):
    value = msg[name]
    return None if value is None else str(value)


def date_ms(msg):
    value = msg.get("date")
    if value is None or getattr(value, "datetime", None) is None:
        return None
    dt = value.datetime
    if dt.tzinfo is None:  # -0000 or an unknown zone: RFC 5322 §3.3 reads the time as UTC
        dt = dt.replace(tzinfo=email.utils.datetime.timezone.utc)
    return int(dt.timestamp() * 1000)


def body(msg, kind):
    part = msg.get_body(preferencelist=(kind,))
    return None if part is None else part.get_content()


def body_charset(msg, kind):
    part = msg.get_body(preferencelist=(kind,))
    return None if part is None else part.get_content_charset()


def leaves(part):
    """Leaf parts in document order; message/rfc822 parts are leaves (their inner parts are their content)."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from leaves(sub)
    else:
        yield part


def attachments(msg):
    out = []
    for part in leaves(msg):
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            payload = part.get_payload(decode=True)  # None for message/*: a parsed message, not bytes
            size = None if payload is None else len(payload)
            out.append({"filename": filename or "", "mime_type": part.get_content_type(), "size": size})
    return out


def reference(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return {
        "subject": field(lambda: structured(msg, "subject")),
        "from": field(lambda: first_sender(msg)),
        "to": field(lambda: addresses(msg, "to")),
        "cc": field(lambda: addresses(msg, "cc")),
        "message_id": field(lambda: structured(msg, "message-id")),
        "in_reply_to": field(lambda: structured(msg, "in-reply-to")),
        "references": field(lambda: structured(msg, "references")),
        "date": field(lambda: date_ms(msg)),
        "body_text": field(lambda: body(msg, "plain")),
        "body_html": field(lambda: body(msg, "html")),
        "body_text_charset": field(lambda: body_charset(msg, "plain")),
        "body_html_charset": field(lambda: body_charset(msg, "html")),
        "attachments": field(lambda: attachments(msg)),
    }


def main():
    folder = sys.argv[1]
    print(json.dumps({"python": sys.version.split()[0]}))
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
        print(json.dumps({"file": name, **reference(raw)}, ensure_ascii=False))


main()
