"""JUnit XML: one testcase per record file, a failure per finding at error severity."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from govctl.history.validation import ValidationResult
from govctl.model.escape import printable
from govctl.model.findings import ERROR, Finding


def render(result: ValidationResult) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_file[f.file].append(f)
    files = sorted(set(result.files) | set(by_file))
    failed = sum(1 for f in files if any(x.severity == ERROR for x in by_file[f]))
    suite = ET.Element("testsuite", name="govctl validate", tests=str(len(files)),
                       failures=str(failed), errors="0", skipped="0")
    for file in files:
        # printable(): a control character in a file name would make the XML unparsable
        case = ET.SubElement(suite, "testcase", classname="govctl.validate",
                             name=printable(file), file=printable(file))
        errors = [f for f in by_file[file] if f.severity == ERROR]
        warnings = [f for f in by_file[file] if f.severity != ERROR]
        if errors:
            failure = ET.SubElement(case, "failure", type=errors[0].rule,
                                    message=printable(
                                        f"{len(errors)} error(s): {errors[0].message}"))
            failure.text = "\n".join(_line(f) for f in by_file[file])
        elif warnings:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(_line(f) for f in warnings)
    root = ET.Element("testsuites", name="govctl", tests=str(len(files)),
                      failures=str(failed), errors="0")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _line(f: Finding) -> str:
    lines = [printable(f"{f.file}:{f.line}:{f.column}: {f.rule} {f.severity} {f.message}")]
    lines += [printable(f"    ↳ {r.file}:{r.line}:{r.column}: {r.message}") for r in f.related]
    return "\n".join(lines)
