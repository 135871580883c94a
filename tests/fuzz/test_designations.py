"""The designation-list loaders (UN XML through defusedxml, and CSV) against XML attacks and
garbage: every input is a list or InvalidInput; the attacks cost no memory and reach no file."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from countersignal.classify.designations.parse import parse_csv, parse_un_xml
from countersignal.errors import InvalidInput
from fuzz.budget import fuzz_settings, run_bounded

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">
""" + b"".join(
    f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'.encode()
    for i in range(1, 10)
) + b"""]>
<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>&lol9;</FIRST_NAME>
</INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"""

ATTACKS = {
    "billion laughs": LAUGHS,
    "external entity (XXE)": b"""<?xml version="1.0"?><!DOCTYPE x [
<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>
<FIRST_NAME>&xxe;</FIRST_NAME><REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER></INDIVIDUAL>
</INDIVIDUALS></CONSOLIDATED_LIST>""",
    "external DTD": b"""<?xml version="1.0"?><!DOCTYPE CONSOLIDATED_LIST SYSTEM
"http://127.0.0.1:9/evil.dtd"><CONSOLIDATED_LIST/>""",
    "parameter entity": b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM
"file:///etc/passwd"> %p;]><CONSOLIDATED_LIST/>""",
    "quadratic blowup": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"A" * 100_000
    + b'">]><CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>' + b"&a;" * 20_000
    + b"</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
    "xinclude": b"""<CONSOLIDATED_LIST xmlns:xi="http://www.w3.org/2001/XInclude"><INDIVIDUALS>
<INDIVIDUAL><FIRST_NAME><xi:include parse="text" href="file:///etc/passwd"/></FIRST_NAME>
<REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>""",
}


def test_xml_attacks_are_refused_cheaply() -> None:
    code = f"""
from countersignal.classify.designations.parse import parse_un_xml
from countersignal.errors import InvalidInput
attacks = {ATTACKS!r}
result = {{}}
for name, data in attacks.items() if RUN else ():
    try:
        parsed = parse_un_xml(data)
        result[name] = ["parsed", [r.name for r in parsed.records]]
    except InvalidInput as exc:
        result[name] = ["InvalidInput", str(exc)[:200]]
"""
    # The same interpreter, imports and payload literals without parsing: what parsing adds is
    # the figure that matters (the absolute peak varies with the machine's libraries).
    baseline = run_bounded("RUN = False\n" + code, memory_mib=1024, timeout_s=60)
    run = run_bounded("RUN = True\n" + code, memory_mib=1024, timeout_s=60)
    assert run.returncode == 0, run.stderr
    for name, (outcome, detail) in run.result.items():
        if name == "xinclude":  # not processed: refused or parsed, never the file's text
            assert outcome == "InvalidInput" or not any("root:" in n for n in detail)
        else:  # every DTD is refused before any entity is expanded or fetched
            assert outcome == "InvalidInput" and "unsafe XML" in detail, (name, detail)
    assert run.seconds < 20
    assert run.peak_mib - baseline.peak_mib < 64, (run.peak_mib, baseline.peak_mib)


XML_PIECES = st.sampled_from([
    "<CONSOLIDATED_LIST>", "</CONSOLIDATED_LIST>", "<INDIVIDUALS>", "</INDIVIDUALS>",
    "<INDIVIDUAL>", "</INDIVIDUAL>", "<ENTITIES>", "<ENTITY>", "</ENTITY>", "</ENTITIES>",
    "<FIRST_NAME>", "</FIRST_NAME>", "<REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER>",
    "<LISTED_ON>2001-13-45</LISTED_ON>", "<INDIVIDUAL_ALIAS><ALIAS_NAME>", "</ALIAS_NAME>",
    "<QUALITY>Good</QUALITY></INDIVIDUAL_ALIAS>", "&amp;", "&nope;", "<![CDATA[x]]>", "<!--",
    "-->", "<?pi x?>", '<?xml version="1.0" encoding="utf-16"?>', "\x00", "\ud7ff", "é",
    "<!DOCTYPE x>", "ATTR=\"", " dateGenerated='x'",
])


@fuzz_settings(examples=300)
@given(st.lists(XML_PIECES | st.text(max_size=10), max_size=40).map("".join),
       st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_random_xml_is_a_list_or_invalid_input(text: str, encoding: str) -> None:
    try:
        parsed = parse_un_xml(text.encode(encoding, errors="replace"))
    except InvalidInput:
        return
    assert all(record.reference for record in parsed.records)


@fuzz_settings(examples=300)
@given(st.binary(max_size=1000))
def test_random_bytes_xml(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_un_xml(data)


CSV_PIECES = st.sampled_from(["reference,name,kind,aliases\n", "reference,name\n", "QDi.1,",
                              "Name", ",individual", ",entity", ",alien", ',"a|b|', "\n", '"',
                              "\x00", "\xff", "||", ",,,,,,", "\r"])


@fuzz_settings(examples=300)
@given(st.lists(CSV_PIECES | st.text(max_size=8), max_size=30).map("".join),
       st.booleans())
def test_random_csv_list(text: str, latin: bool) -> None:
    data = text.encode("latin-1", errors="replace") if latin else text.encode()
    try:
        parsed = parse_csv(data)
    except InvalidInput:
        return
    assert all(record.reference and record.name for record in parsed.records)
