"""Writes the expected VADER scores the Rust port is tested against.

Run once with Python `vaderSentiment` 3.3.2 installed (PyPI, MIT):
    python scripts/vader_fixture.py .local/text/hutto_ICWSM_2014 crates/text/tests/fixtures

Reads every `*_GroundTruth.txt` of Hutto & Gilbert (2014) the way the Rust test does (lines
split on "\n", one trailing "\r" dropped, `id<TAB>score<TAB>text`), plus the hand-written
sentences in `vader_extra.txt` (one per line), and writes their neg/neu/pos/compound.
"""
import gzip
import pathlib
import sys

import vaderSentiment
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def rows(path):
    for line in path.read_bytes().decode("utf-8").split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line:
            yield line.split("\t", 2)


def main(hutto_dir, fixtures):
    hutto_dir, fixtures = pathlib.Path(hutto_dir), pathlib.Path(fixtures)
    analyzer = SentimentIntensityAnalyzer()

    def scores(text):
        s = analyzer.polarity_scores(text)
        return f"{s['neg']}\t{s['neu']}\t{s['pos']}\t{s['compound']}"

    out = []
    for path in sorted(hutto_dir.glob("*_GroundTruth.txt")):
        source = path.name.removesuffix("_GroundTruth.txt")
        for ident, _, text in rows(path):
            out.append(f"{source}\t{ident}\t{scores(text)}")
    with gzip.open(fixtures / "vader_hutto.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        f.write("# source\tid\tneg\tneu\tpos\tcompound (vaderSentiment 3.3.2)\n")
        f.write("\n".join(out) + "\n")

    extra = (fixtures / "vader_extra.txt").read_text(encoding="utf-8").split("\n")
    with open(fixtures / "vader_extra_expected.tsv", "w", encoding="utf-8") as f:
        f.write("# neg\tneu\tpos\tcompound per line of vader_extra.txt (vaderSentiment 3.3.2)\n")
        for text in extra:
            if text:
                f.write(scores(text) + "\n")
    print(f"{len(out)} Hutto texts, vaderSentiment {getattr(vaderSentiment, '__version__', '3.3.2')}")


if __name__ == "__main__":
    main(*sys.argv[1:])
