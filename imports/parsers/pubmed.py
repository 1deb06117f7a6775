"""PubMed/MEDLINE XML (``<PubmedArticleSet>``, as PubMed's "Save > PubMed XML" or
E-utilities efetch give it), read with defusedxml.

defusedxml refuses entity declarations (the "billion laughs" expansion and external
entities pointing at local files or URLs) when it meets them, before anything is
expanded; the file is then refused as a whole. The DOCTYPE line PubMed writes is
allowed: its external DTD is never fetched.
"""

from __future__ import annotations

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden

from studies.choices import PublicationType

from .base import CITATION, ParsedRecord, ParseFailed, Problem, check_citation, join_pages

# PubMed lists several types per article ("Case Reports", "Journal Article"): the
# first of these, in this order, decides; anything else is an article.
TYPES = (
    ("case reports", PublicationType.CASE_REPORT),
    ("preprint", PublicationType.PREPRINT),
    ("systematic review", PublicationType.REVIEW),
    ("review", PublicationType.REVIEW),
    ("meta-analysis", PublicationType.REVIEW),
    ("letter", PublicationType.LETTER),
    ("comment", PublicationType.LETTER),
    ("congress", PublicationType.CONFERENCE_ABSTRACT),
    ("meeting abstract", PublicationType.CONFERENCE_ABSTRACT),
)


class _LineNumberingParser(SafeElementTree.DefusedXMLParser):
    """Notes on each element the line its start tag is on (defusedxml builds on the
    pure-Python XMLParser, whose expat parser knows the current line)."""

    def _start(self, tag, attr_list):
        element = super()._start(tag, attr_list)
        element.sourceline = self.parser.CurrentLineNumber
        return element


def _read(content: bytes):
    parser = _LineNumberingParser()
    try:
        parser.feed(content)
        return parser.close()
    except EntitiesForbidden as refused:
        where = f" (it points outside the file, at {refused.sysid})" if refused.sysid else ""
        raise ParseFailed([Problem(
            f"Refused: the file declares the XML entity '{refused.name}'{where}. "
            "PubMed XML never does; entities can expand without limit or read other "
            "files, so they are not processed.",
        )]) from refused
    except ExternalReferenceForbidden as refused:
        raise ParseFailed([Problem(
            f"Refused: the file refers to an external resource ({refused.sysid}).",
        )]) from refused
    except DefusedXmlException as refused:
        raise ParseFailed([Problem(f"Refused: {refused}.")]) from refused
    except SafeElementTree.ParseError as error:
        line, column = error.position
        raise ParseFailed([Problem(
            f"Not well-formed XML ({str(error).split(':')[0]}, column {column + 1}).",
            line=line,
        )]) from error


def _text(element) -> str:
    """All text inside, markup such as <i> and <sup> dropped."""
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def parse(content: bytes) -> list[ParsedRecord]:
    root = _read(content)
    if root.tag == "PubmedArticle":
        articles = [root]
    elif root.tag == "PubmedArticleSet":
        articles = [child for child in root if child.tag in ("PubmedArticle", "PubmedBookArticle")]
    else:
        raise ParseFailed([Problem(
            f"Not PubMed XML: the root element is <{root.tag}>, expected <PubmedArticleSet>.",
            line=getattr(root, "sourceline", None),
        )])
    if not articles:
        raise ParseFailed([Problem("No <PubmedArticle> in the file.")])
    return [_article(element, number) for number, element in enumerate(articles, start=1)]


def _article(element, number: int) -> ParsedRecord:
    line = getattr(element, "sourceline", None)
    record = ParsedRecord(kind=CITATION, record=number, line=line)
    if element.tag == "PubmedBookArticle":
        record.problem("A book chapter: carlit catalogues journal publications only.",
                       field="PubmedBookArticle")
        return record
    citation = element.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else None
    if article is None:
        record.problem("No <MedlineCitation>/<Article> in this record.", field="Article")
        return record

    def where(path: str, base=article) -> int | None:
        found = base.find(path)
        return getattr(found, "sourceline", None) if found is not None else None

    issue = article.find("Journal/JournalIssue")
    pub_date = issue.find("PubDate") if issue is not None else None
    year = ""
    if pub_date is not None:
        year = _text(pub_date.find("Year")) or _text(pub_date.find("MedlineDate"))
    if not year:
        year = _text(article.find("ArticleDate/Year"))
    pages = _text(article.find("Pagination/MedlinePgn")) or join_pages(
        _text(article.find("Pagination/StartPage")), _text(article.find("Pagination/EndPage"))
    )
    ids = {}
    for article_id in element.findall("PubmedData/ArticleIdList/ArticleId"):
        ids.setdefault(article_id.get("IdType", ""), _text(article_id))
    doi = next(
        (_text(location) for location in article.findall("ELocationID")
         if location.get("EIdType") == "doi"),
        ids.get("doi", ""),
    )
    abstract = "\n\n".join(
        (f"{part.get('Label').capitalize()}: " if part.get("Label") else "") + _text(part)
        for part in article.findall("Abstract/AbstractText")
    )
    authors = []
    for author in article.findall("AuthorList/Author"):
        family = _text(author.find("LastName")) or _text(author.find("CollectiveName"))
        given = _text(author.find("ForeName")) or _text(author.find("Initials"))
        authors.append({"family_name": family, "given_names": given,
                        "line": getattr(author, "sourceline", None)})
    types = [_text(kind).lower() for kind in article.findall("PublicationTypeList/PublicationType")]
    publication_type = next(
        (mapped for name, mapped in TYPES if name in types), PublicationType.ARTICLE
    )
    values = {
        "pmid": _text(citation.find("PMID")) or ids.get("pubmed", ""),
        "doi": doi,
        "pmcid": ids.get("pmc", ""),
        "title": _text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle")),
        "journal": _text(article.find("Journal/Title")),
        "year": year,
        "volume": _text(issue.find("Volume")) if issue is not None else "",
        "issue": _text(issue.find("Issue")) if issue is not None else "",
        "pages": pages,
        "abstract": abstract,
        "authors": authors,
        "publication_type": publication_type,
    }
    lines = {
        "pmid": where("PMID", citation),
        "doi": where("ELocationID") or line,
        "title": where("ArticleTitle"),
        "journal": where("Journal/Title"),
        "year": where("Journal/JournalIssue/PubDate") or line,
        "volume": where("Journal/JournalIssue/Volume"),
        "issue": where("Journal/JournalIssue/Issue"),
        "pages": where("Pagination"),
        "authors": where("AuthorList"),
    }
    labels = {
        "pmid": "PMID", "doi": "ELocationID", "title": "ArticleTitle", "journal": "Journal/Title",
        "year": "PubDate", "volume": "Volume", "issue": "Issue", "pages": "Pagination",
        "abstract": "Abstract", "authors": "AuthorList",
    }
    check_citation(record, values, lines={k: v for k, v in lines.items() if v}, labels=labels)
    return record
