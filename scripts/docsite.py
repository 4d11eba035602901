"""Write the docsite's view of the guides: docs/docsite/extra-docs.yml and one short RST page per guide of docs/.

The Markdown guides in docs/ stay the one source: GitHub and an installed collection show them as they are, and a
docsite built with antsibull-docs gets, from docs/docsite/, a page per guide (its title and a link to it) in the
sections below. Run this after adding, renaming or retitling a guide.

Usage: docsite.py [--check]
--check writes nothing; it exits 1 when a guide of docs/ is in no section, or a file differs from what it would
write (the unit tests run it).
"""

import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
DOCSITE = os.path.join(DOCS, "docsite")
RST_DIR = os.path.join(DOCSITE, "rst")
EXTRA_DOCS = os.path.join(DOCSITE, "extra-docs.yml")
# antsibull-docs accepts only labels under this prefix in extra docs.
LABEL_PREFIX = "ansible_collections.dedicated_hosts.failover.docsite."

SECTIONS = (
    ("Operating a failover", ("operator-guide.md", "troubleshooting.md", "faults-and-bad-input.md", "preflight.md", "capacity.md")),
    ("Installing, running from AWX, scheduling", ("installation.md", "awx.md", "scheduling.md", "health.md")),
    ("Reference", ("variables.md", "record-schema.md", "guarantees.md", "iam.md", "performance.md", "architecture.md")),
)


class IndentedListDumper(yaml.SafeDumper):
    """Indents a list under its key, as the repository's yamllint rules want."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def guides_in_docs():
    return sorted(name for name in os.listdir(DOCS) if name.endswith(".md"))


def guide_title(guide):
    with open(os.path.join(DOCS, guide), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("# "):
                return line[2:].strip()
    raise SystemExit("docs/%s has no '# ' title" % guide)


def rst_inline(text):
    """Markdown's `code` as RST's ``code``: the only inline markup the guides' titles use."""
    return re.sub(r"`([^`]+)`", r"``\1``", text)


def guide_url(guide):
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        repository = yaml.safe_load(handle)["repository"]
    return "%s/blob/main/docs/%s" % (repository, guide)


def page_name(guide):
    return guide[:-len(".md")]


def page(guide):
    title = rst_inline(guide_title(guide))
    return (
        ".. Written by scripts/docsite.py from docs/{guide}: edit the guide, then run the script.\n"
        "\n"
        ".. _{label}:\n"
        "\n"
        "{title}\n"
        "{underline}\n"
        "\n"
        "This guide is kept in Markdown beside the collection's code: read it at `docs/{guide} <{url}>`__.\n"
        "An installed collection carries it too, as ``docs/{guide}`` in the collection's folder.\n"
    ).format(guide=guide, label=LABEL_PREFIX + page_name(guide).replace("-", "_"), title=title, underline="=" * len(title),
             url=guide_url(guide))


def extra_docs():
    index = {"sections": [{"title": title, "toctree": [page_name(guide) for guide in guides]} for title, guides in SECTIONS]}
    return ("---\n# Written by scripts/docsite.py: the sections of the docsite's guides, each page in rst/ (antsibull-docs).\n"
            + yaml.dump(index, Dumper=IndentedListDumper, default_flow_style=False, sort_keys=False))


def wanted_files():
    files = {EXTRA_DOCS: extra_docs()}
    for _title, guides in SECTIONS:
        for guide in guides:
            files[os.path.join(RST_DIR, page_name(guide) + ".rst")] = page(guide)
    return files


def listed_guides():
    return [guide for _title, guides in SECTIONS for guide in guides]


def orphan_pages(files):
    existing = [os.path.join(RST_DIR, name) for name in os.listdir(RST_DIR)] if os.path.isdir(RST_DIR) else []
    return [path for path in existing if path not in files]


def stale(files):
    out_of_date = []
    for path, content in files.items():
        try:
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current != content:
            out_of_date.append(path)
    return out_of_date


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        print(__doc__, file=sys.stderr)
        return 2
    found = ["docs/%s is in no section of scripts/docsite.py's SECTIONS" % guide for guide in guides_in_docs() if guide not in listed_guides()]
    found += ["docs/%s is listed in scripts/docsite.py's SECTIONS but does not exist" % guide
              for guide in listed_guides() if not os.path.isfile(os.path.join(DOCS, guide))]
    if found:
        print("\n".join(found), file=sys.stderr)
        return 1
    files = wanted_files()
    if check:
        found = ["%s is out of date: run scripts/docsite.py" % os.path.relpath(path, ROOT) for path in stale(files)]
        found += ["%s is no guide's page: run scripts/docsite.py" % os.path.relpath(path, ROOT) for path in orphan_pages(files)]
        print("\n".join(found), file=sys.stderr)
        return 1 if found else 0
    os.makedirs(RST_DIR, exist_ok=True)
    for path in orphan_pages(files):
        os.remove(path)
        print("removed %s" % os.path.relpath(path, ROOT))
    for path in stale(files):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(files[path])
        print("wrote %s" % os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
