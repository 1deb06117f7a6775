"""Files as curators get them, written for the tests.

The citations are real publications (shared reference notes: DOI, PMID, journal,
volume, pages); the registry records use made-up NCT numbers and sponsors so that
nothing is claimed about a real trial.
"""
# ruff: noqa: E501  (files as exporters write them: long lines included)

import json

MACKENSEN_DOI = "10.1038/s41591-022-02017-5"
MULLER_DOI = "10.1056/NEJMoa2308917"
TAUBMANN_DOI = "10.1093/rheumatology/kead330"

RIS_THREE = """\
TY  - JOUR
TI  - Anti-CD19 CAR T cell therapy for refractory systemic lupus erythematosus
AU  - Mackensen, Andreas
AU  - Müller, Fabian
AU  - Schett, Georg
PY  - 2022/10//
JO  - Nature Medicine
VL  - 28
IS  - 10
SP  - 2124
EP  - 2132
DO  - 10.1038/s41591-022-02017-5
AN  - 36109639
DB  - PubMed
AB  - CD19 CAR T cells were given to five patients with refractory SLE.
ER  -

TY  - JOUR
TI  - CD19 CAR T-Cell Therapy in Autoimmune Disease - A Case Series with Follow-up
AU  - Müller, Fabian
AU  - Taubmann, Jule
PY  - 2024
JO  - New England Journal of Medicine
VL  - 390
IS  - 8
SP  - 687-700
DO  - https://doi.org/10.1056/NEJMoa2308917
ER  -

TY  - JOUR
TI  - Rescue therapy of antisynthetase syndrome with CD19-targeted CAR-T cells after
  failure of several B-cell depleting antibodies
AU  - Taubmann, Jule
PY  - 2023
JO  - Rheumatology (Oxford)
VL  - 63
IS  - 1
SP  - e12
EP  - e14
DO  - 10.1093/rheumatology/kead330
ER  -
""".replace("ER  -\n", "ER  - \n").encode()  # exporters end records with "ER  - "

BIBTEX = rb"""
% Exported from a reference manager
@string{natmed = "Nature Medicine"}

@article{mackensen2022,
  author  = {Mackensen, Andreas and M{\"u}ller, Fabian and Georg Schett},
  title   = {Anti-{CD19} {CAR} {T} cell therapy for refractory systemic lupus erythematosus},
  journal = natmed,
  year    = 2022,
  volume  = {28},
  number  = {10},
  pages   = {2124--2132},
  doi     = {10.1038/s41591-022-02017-5},
  pmid    = {36109639},
}

@inproceedings{abstract2024,
  author    = {van der Berg, Ludwig and Hagen, Melanie},
  title     = "CD19 CAR T cells in systemic sclerosis: one-year follow-up",
  booktitle = {Annals of the Rheumatic Diseases (EULAR abstracts)},
  year      = {2024},
  doi       = {10.5555/carlit.abstract.2024},
}
"""

PUBMED_XML = b"""<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">38381673</PMID>
    <Article PubModel="Print">
      <Journal>
        <JournalIssue CitedMedium="Internet">
          <Volume>390</Volume>
          <Issue>8</Issue>
          <PubDate><Year>2024</Year><Month>Feb</Month><Day>22</Day></PubDate>
        </JournalIssue>
        <Title>The New England journal of medicine</Title>
      </Journal>
      <ArticleTitle>CD19 CAR T-Cell Therapy in Autoimmune Disease - A Case Series with Follow-up.</ArticleTitle>
      <Pagination><MedlinePgn>687-700</MedlinePgn></Pagination>
      <ELocationID EIdType="doi" ValidYN="Y">10.1056/NEJMoa2308917</ELocationID>
      <Abstract>
        <AbstractText Label="BACKGROUND">CD19 CAR T cells were given to patients with <i>refractory</i> autoimmune disease.</AbstractText>
        <AbstractText Label="METHODS">A case series.</AbstractText>
      </Abstract>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>M\xc3\xbcller</LastName><ForeName>Fabian</ForeName><Initials>F</Initials></Author>
        <Author ValidYN="Y"><LastName>Taubmann</LastName><ForeName>Jule</ForeName><Initials>J</Initials></Author>
        <Author ValidYN="Y"><CollectiveName>EULAR CAR-T Study Group</CollectiveName></Author>
      </AuthorList>
      <PublicationTypeList>
        <PublicationType UI="D016428">Journal Article</PublicationType>
        <PublicationType UI="D002363">Case Reports</PublicationType>
      </PublicationTypeList>
    </Article>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList>
      <ArticleId IdType="pubmed">38381673</ArticleId>
      <ArticleId IdType="doi">10.1056/NEJMoa2308917</ArticleId>
    </ArticleIdList>
  </PubmedData>
</PubmedArticle>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">37432378</PMID>
    <Article PubModel="Print">
      <Journal>
        <JournalIssue CitedMedium="Internet">
          <Volume>63</Volume>
          <Issue>1</Issue>
          <PubDate><MedlineDate>2023 Jul-Aug</MedlineDate></PubDate>
        </JournalIssue>
        <Title>Rheumatology (Oxford, England)</Title>
      </Journal>
      <ArticleTitle>Rescue therapy of antisynthetase syndrome with CD19-targeted CAR-T cells.</ArticleTitle>
      <Pagination><StartPage>e12</StartPage><EndPage>e14</EndPage></Pagination>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Taubmann</LastName><ForeName>Jule</ForeName></Author>
      </AuthorList>
      <PublicationTypeList>
        <PublicationType UI="D016422">Letter</PublicationType>
      </PublicationTypeList>
    </Article>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList>
      <ArticleId IdType="pubmed">37432378</ArticleId>
      <ArticleId IdType="doi">10.1093/rheumatology/kead330</ArticleId>
    </ArticleIdList>
  </PubmedData>
</PubmedArticle>
</PubmedArticleSet>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>&lol9;</PMID></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>
<Article><ArticleTitle>&secret;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


def ctgov_study(
    nct_id: str = "NCT09000001",
    *,
    phases=("PHASE1", "PHASE2"),
    status: str = "RECRUITING",
    countries=("Germany", "Germany", "China"),
    conditions=("Lupus Erythematosus, Systemic", "Lupus Nephritis", "Refractory Autoimmune Disease"),
    start: str = "2023-03",
    completion: str = "2026-12-31",
) -> dict:
    """A study as ClinicalTrials.gov API v2 returns it (only the parts carlit reads,
    plus a few it ignores)."""
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": nct_id,
                "orgStudyInfo": {"id": "CART-SLE-01"},
                "briefTitle": "CD19 CAR T Cells in Refractory SLE",
                "officialTitle": "A Phase 1/2 Study of Autologous CD19 CAR T Cells in "
                "Refractory Systemic Lupus Erythematosus",
                "acronym": "CASTLE-X",
            },
            "statusModule": {
                "statusVerifiedDate": "2024-05",
                "overallStatus": status,
                "startDateStruct": {"date": start, "type": "ACTUAL"},
                "completionDateStruct": {"date": completion, "type": "ESTIMATED"},
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": "Example University Hospital", "class": "OTHER"},
                "collaborators": [{"name": "Example Biotech", "class": "INDUSTRY"}],
            },
            "conditionsModule": {"conditions": list(conditions), "keywords": ["CAR-T"]},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": list(phases)},
            "contactsLocationsModule": {
                "locations": [
                    {"facility": f"Site {index}", "city": "Somewhere", "country": country}
                    for index, country in enumerate(countries, start=1)
                ],
            },
        },
        "derivedSection": {"conditionBrowseModule": {"meshes": []}},
        "hasResults": False,
    }


def ctgov_page(*studies: dict) -> bytes:
    return json.dumps({"studies": list(studies), "nextPageToken": None}, indent=2).encode()
