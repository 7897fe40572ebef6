"""A seeded, deterministic generator of a realistic B2B funnel: accounts, leads, events and outcomes.

Pure Python (stdlib :mod:`random` only). Used by ``make demo``, the benchmarks and the predictive work, so:

* **Deterministic.** The same :class:`DemoConfig` gives the same records, byte for byte. Every lead draws
  from its own :class:`random.Random`, seeded from ``(config.seed, lead index, stream)``, so leads, events
  and outcomes can be produced independently of each other and in any of the ``iter_*`` functions.
* **Streamable.** ``iter_events`` works lead by lead; only the accounts (``config.accounts`` of them) and
  the set of emails already handed out (for uniqueness) are held in memory.
* **Learnable, not trivial.** Every lead has a hidden *intent* built from its fit (seniority, department,
  company size, industry, free mail, student, acquisition source), an account-level "in market" effect and
  noise. Intent drives what the lead does - high intent: more and deeper sessions, the pricing page, product
  brochures, demo / trial / quote requests, engagement rising over time; low intent: newsletters, email
  opens, blog posts, engagement fading, unsubscribes and bounces - and whether it becomes an opportunity
  and is won. The outcome is a coin toss weighted by intent, so a model can learn it but never perfectly.

Record formats are plain dicts, leadflow's import format (see the ``iter_*`` docstrings). Events of a lead
come out together and sorted by ``occurred_at``; anonymous page views before a lead's first form carry an
``anonymous_id`` (and ``_lead_email``, for tests only: importers should ignore keys starting with ``_``),
and the identifying ``form_submit`` carries both the email and that ``anonymous_id``.
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from operator import itemgetter
from typing import Any

__all__ = ["DemoConfig", "DemoData", "generate", "iter_accounts", "iter_events", "iter_leads", "iter_outcomes"]

DAY = 86400
HOUR = 3600
MINUTE = 60


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. ``events_per_lead`` is the mean of a heavy-tailed distribution."""

    seed: int = 42
    accounts: int = 300
    leads: int = 2000
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)  # first day of activity
    days: int = 180  # length of the period; every event falls in [start, start + days)
    events_per_lead: float = 25.0

    def __post_init__(self) -> None:
        if self.accounts < 0 or self.leads < 0:
            raise ValueError("accounts and leads must not be negative")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not self.events_per_lead > 0:
            raise ValueError("events_per_lead must be positive")
        if self.start.tzinfo is None:  # naive datetimes are taken to be UTC, as everywhere in leadflow
            object.__setattr__(self, "start", self.start.replace(tzinfo=UTC))


@dataclass
class DemoData:
    """A whole (small) data set in memory; use the ``iter_*`` functions for big ones."""

    accounts: list[dict] = field(default_factory=list)
    leads: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------------

SITE = "https://www.brightlane.example"
VENDOR = "Brightlane"

#: name, weight, phone country code, country TLD, EU/UK (lower consent rate)
COUNTRIES = [
    ("United States", 40, "1", "com", False),
    ("United Kingdom", 12, "44", "co.uk", True),
    ("Germany", 10, "49", "de", True),
    ("France", 7, "33", "fr", True),
    ("Canada", 6, "1", "ca", False),
    ("India", 5, "91", "in", False),
    ("Netherlands", 4, "31", "nl", True),
    ("Australia", 4, "61", "com.au", False),
    ("Spain", 3, "34", "es", True),
    ("Sweden", 3, "46", "se", True),
    ("Brazil", 3, "55", "com.br", False),
    ("Ireland", 2, "353", "ie", True),
    ("Singapore", 1, "65", "sg", False),
]
_COUNTRY = {c[0]: c for c in COUNTRIES}

#: industry, weight, in the default model's target list, words for company names
INDUSTRIES = [
    ("software", 14, True, ["Software", "Labs", "Systems"]),
    ("saas", 10, True, ["Cloud", "Apps", "HQ"]),
    ("technology", 8, True, ["Technologies", "Tech", "Digital"]),
    ("financial services", 9, True, ["Capital", "Financial", "Payments"]),
    ("ecommerce", 7, True, ["Commerce", "Shop", "Market"]),
    ("retail", 7, True, ["Retail", "Stores", "Brands"]),
    ("manufacturing", 10, False, ["Industries", "Manufacturing", "Components"]),
    ("healthcare", 8, False, ["Health", "Medical", "Care"]),
    ("education", 5, False, ["Learning", "Academy", "Education"]),
    ("consulting", 6, False, ["Consulting", "Partners", "Advisors"]),
    ("media", 4, False, ["Media", "Studios", "Publishing"]),
    ("logistics", 4, False, ["Logistics", "Freight", "Transport"]),
    ("telecommunications", 3, False, ["Telecom", "Networks", "Communications"]),
    ("real estate", 3, False, ["Properties", "Realty", "Estates"]),
    ("nonprofit", 2, False, ["Foundation", "Trust", "Alliance"]),
]
_TARGET_INDUSTRY = {name: target for name, _, target, _ in INDUSTRIES}

NAME_PREFIXES = (
    "North South Blue Red Silver Golden Green Iron Bright Clear Swift Quantum Apex Summit Nova Stellar Cedar "
    "Maple Oak Pine River Lake Harbor Stone Crystal Falcon Eagle Fox Wolf Orbit Vertex Pixel Cobalt Amber "
    "Coral Granite Atlas Lumen Zephyr Echo"
).split()
NAME_SUFFIXES = (
    "wind field bridge point works gate line path stack wave forge crest view spring mark scale shift bay "
    "rock light core grid leaf peak ridge port way sphere tide loop"
).split()
LEGAL_FORMS = {"United States": " Inc.", "United Kingdom": " Ltd", "Germany": " GmbH", "France": " SAS",
               "Netherlands": " B.V.", "Sweden": " AB", "Spain": " S.L.", "Australia": " Pty Ltd"}

#: real competitors of the demo vendor (the default model gives their domains -50 fit points)
COMPETITORS = [
    ("hubspot.com", "HubSpot", "software", 7600, 2.6e9, "United States"),
    ("salesforce.com", "Salesforce", "software", 72000, 3.5e10, "United States"),
    ("marketo.com", "Marketo", "software", 1000, 3.5e8, "United States"),
]

FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Daniel Karen Matthew Emily Anthony Laura Mark Anna Paul Sophie Andrew Emma "
    "Lukas Lea Jonas Hannah Felix Mia Julien Camille Hugo Chloé Pierre Renée José Lucía Carlos Sofía Pablo "
    "Elena Lars Ingrid Erik Astrid Priya Arjun Aisha Rahul Wei Mei Kenji Yuki Liam Olivia Noah Ava Ethan "
    "Zoë Isabella Lucas Amelia Omar Fatima Mateo Valentina Daan Femke Sean Aoife"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson Taylor Thomas "
    "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Hall Young King Wright Scott Green "
    "Müller Schmidt Schneider Fischer Weber Becker Dubois Durand Lefèvre Moreau Laurent Fernández López "
    "Núñez Gonçalves Silva Santos Johansson Lindqvist Andersson Nilsson Patel Sharma Singh Gupta Chen Wang "
    "Li Zhang Tanaka Sato Kim Park Nguyen Murphy Kelly Byrne Jansen de-Vries Bakker O'Brien MacLeod Rossi"
).split()

FREE_MAIL = [("gmail.com", 50), ("outlook.com", 18), ("yahoo.com", 16), ("hotmail.com", 16)]

SENIORITIES = ["c-level", "vp", "director", "head", "manager", "individual contributor", "student", "owner",
               "founder"]
DEPARTMENTS = ["marketing", "sales", "revenue operations", "operations", "it", "finance", "hr", "engineering",
               "other"]
_DEPT_LABEL = {"marketing": "Marketing", "sales": "Sales", "revenue operations": "Revenue Operations",
               "operations": "Operations", "it": "IT", "finance": "Finance", "hr": "People",
               "engineering": "Engineering", "other": "Business Development"}
_C_TITLES = {"marketing": "CMO", "sales": "Chief Revenue Officer", "revenue operations": "Chief Revenue Officer",
             "operations": "COO", "it": "CIO", "finance": "CFO", "hr": "Chief People Officer",
             "engineering": "CTO", "other": "CEO"}
_IC_TITLES = {
    "marketing": ["Marketing Specialist", "Content Marketer", "Marketing Coordinator", "SEO Specialist",
                  "Demand Generation Specialist"],
    "sales": ["Account Executive", "Sales Development Representative", "Account Manager"],
    "revenue operations": ["Revenue Operations Analyst", "Sales Operations Analyst", "CRM Administrator"],
    "operations": ["Operations Analyst", "Business Analyst", "Project Coordinator"],
    "it": ["Systems Administrator", "IT Specialist", "Solutions Architect"],
    "finance": ["Financial Analyst", "Accountant", "Controller"],
    "hr": ["HR Generalist", "Recruiter", "Talent Partner"],
    "engineering": ["Software Engineer", "Data Engineer", "Data Scientist"],
    "other": ["Consultant", "Analyst", "Executive Assistant"],
}
_STUDENT_TITLES = ["Student", "MBA Student", "Graduate Student", "Marketing Intern", "Sales Trainee"]

#: hidden-intent contributions of the fit attributes (log-odds)
_SENIORITY_INTENT = {"c-level": 0.55, "vp": 0.6, "director": 0.5, "owner": 0.45, "founder": 0.45, "head": 0.35,
                     "manager": 0.15, "individual contributor": -0.35, "student": -1.7}
_DEPT_INTENT = {"marketing": 0.35, "sales": 0.25, "revenue operations": 0.45, "operations": 0.15, "it": 0.15,
                "finance": -0.1, "hr": -0.4, "engineering": -0.2, "other": -0.4}
_SOURCE_INTENT = {"organic_search": 0.0, "paid_search": 0.15, "social": -0.2, "email": -0.1, "referral": 0.35,
                  "direct_traffic": 0.2, "events": 0.1}

SOURCES = [("organic_search", 30), ("paid_search", 18), ("social", 12), ("email", 10), ("referral", 10),
           ("direct_traffic", 12), ("events", 8)]
_PAID_CAMPAIGNS = ["brand-search", "lead-scoring-generic", "competitor-keywords", "revops-tools"]
_SOCIAL_CAMPAIGNS = ["linkedin-abm-q1", "linkedin-playbook-ebook", "meta-retargeting"]
_EMAIL_CAMPAIGNS = ["partner-newsletter", "webinar-invite", "nurture-playbook"]
_EVENT_CAMPAIGNS = ["saas-summit-2026", "revops-live-2026", "martech-world-2026", "field-roadshow-q2"]
_REFERRERS = {
    "organic_search": ["https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
                       "https://duckduckgo.com/"],
    "paid_search": ["https://www.google.com/", "https://www.bing.com/"],
    "social": ["https://www.linkedin.com/", "https://t.co/", "https://www.facebook.com/"],
    "email": [""],
    "referral": ["https://www.g2.com/", "https://www.capterra.com/", "https://news.ycombinator.com/",
                 "https://partner.example.org/"],
    "direct_traffic": [""],
    "events": [""],
}


def _title_from_slug(slug: str) -> str:
    return slug.rsplit("/", 1)[-1].replace("-", " ").capitalize()


BLOG = [
    "what-is-lead-scoring", "lead-scoring-models-explained", "mql-vs-sql", "b2b-funnel-benchmarks-2026",
    "intent-data-101", "account-based-marketing-guide", "email-deliverability-tips", "gdpr-for-marketers",
    "how-to-build-an-icp", "revops-metrics-that-matter", "sales-marketing-alignment",
    "webinar-promotion-checklist", "content-marketing-roi", "landing-page-best-practices", "crm-data-hygiene",
    "predictive-lead-scoring", "nurture-campaign-examples", "b2b-seo-basics", "linkedin-ads-for-b2b",
    "attribution-models-compared", "churn-signals", "pipeline-velocity", "demand-gen-vs-lead-gen",
    "marketing-ops-stack-2026", "buyer-intent-signals", "cold-email-templates", "event-marketing-roi",
    "customer-journey-mapping", "product-led-growth", "hiring-your-first-sdr",
]
#: asset slug, asset type, title
ASSETS = [
    ("b2b-lead-scoring-playbook", "ebook", "The B2B Lead Scoring Playbook"),
    ("mql-to-revenue-ebook", "ebook", "From MQL to Revenue"),
    ("abm-starter-kit", "ebook", "The ABM Starter Kit"),
    ("data-privacy-whitepaper", "whitepaper", "Data Privacy in Marketing Automation"),
    ("scoring-architecture-whitepaper", "whitepaper", "Explainable Scoring at Scale"),
    ("state-of-b2b-marketing-2026", "report", "State of B2B Marketing 2026"),
    ("revops-benchmark-report", "report", "RevOps Benchmark Report"),
    ("buyers-guide-revenue-analytics", "guide", "Buyer's Guide to Revenue Analytics"),
    ("nurture-campaign-guide", "guide", "The Nurture Campaign Guide"),
    ("brightlane-product-brochure", "brochure", "Brightlane Product Brochure"),
    ("brightlane-enterprise-brochure", "brochure", "Brightlane Enterprise Brochure"),
    ("brightlane-security-brochure", "brochure", "Brightlane Security & Compliance"),
]
_ASSETS_BY_TYPE: dict[str, list[tuple[str, str, str]]] = {}
for _a in ASSETS:
    _ASSETS_BY_TYPE.setdefault(_a[1], []).append(_a)
WEBINARS = ["scoring-that-sales-trusts", "revops-in-2026", "abm-without-the-hype", "from-mql-to-pipeline",
            "data-privacy-for-marketers"]
PRODUCTS = ["Brightlane Platform", "Brightlane Analytics", "Brightlane Connect"]
PLANS = ["starter", "growth", "enterprise"]

#: page groups: (url, title, typical seconds on page)
PAGES: dict[str, list[tuple[str, str, float]]] = {
    "home": [("/", f"{VENDOR} - Lead qualification for B2B teams", 35.0)],
    "blog": [(f"/blog/{s}", f"{_title_from_slug(s)} | {VENDOR} Blog", 95.0) for s in BLOG],
    "product": [("/product", f"Product | {VENDOR}", 60.0), ("/product/scoring", f"Scoring | {VENDOR}", 70.0),
                ("/product/lifecycle", f"Lifecycle stages | {VENDOR}", 60.0),
                ("/product/analytics", f"Analytics | {VENDOR}", 55.0),
                ("/integrations", f"Integrations | {VENDOR}", 40.0),
                ("/integrations/salesforce", f"Salesforce integration | {VENDOR}", 50.0),
                ("/integrations/hubspot", f"HubSpot integration | {VENDOR}", 50.0)],
    "pricing": [("/pricing", f"Pricing | {VENDOR}", 75.0), ("/pricing", f"Pricing | {VENDOR}", 75.0),
                ("/pricing/enterprise", f"Enterprise pricing | {VENDOR}", 80.0)],
    "docs": [(f"/docs/{s}", f"{_title_from_slug(s)} | {VENDOR} Docs", 110.0) for s in
             ["getting-started", "api", "scoring-models", "integrations/salesforce", "self-hosting", "security",
              "data-import"]],
    "cases": [(f"/case-studies/{s}", f"{_title_from_slug(s)} case study | {VENDOR}", 90.0) for s in
              ["northwind", "globex", "initech", "umbrella-health", "stark-logistics", "wayne-financial"]],
    "company": [("/about", f"About us | {VENDOR}", 30.0), ("/careers", f"Careers | {VENDOR}", 40.0),
                ("/careers/account-executive", f"Account Executive | Careers | {VENDOR}", 60.0),
                ("/careers/marketing-manager", f"Marketing Manager | Careers | {VENDOR}", 60.0),
                ("/contact", f"Contact | {VENDOR}", 25.0)],
    "resources": [("/resources", f"Resources | {VENDOR}", 30.0), ("/webinars", f"Webinars | {VENDOR}", 30.0)]
    + [(f"/resources/{a[0]}", f"{a[2]} | {VENDOR}", 45.0) for a in ASSETS if a[1] != "brochure"],
}
_GROUPS = ["home", "blog", "product", "pricing", "docs", "cases", "company", "resources"]
_GROUP_PAGES = [PAGES[g] for g in _GROUPS]
_PRICING = PAGES["pricing"][0]
_DEMO_PAGE = ("/demo", f"Book a demo | {VENDOR}", 50.0)
_TRIAL_PAGE = ("/trial", f"Start your free trial | {VENDOR}", 45.0)
_CONTACT_PAGE = PAGES["company"][4]

#: email campaigns: name, click target group
EMAIL_CAMPAIGNS_LOW = ["newsletter", "newsletter", "newsletter", "nurture-playbook", "webinar-invite"]
EMAIL_CAMPAIGNS_HIGH = ["product-update", "case-study-digest", "nurture-playbook", "webinar-invite",
                        "newsletter"]
_EMAIL_TARGET = {"newsletter": "blog", "nurture-playbook": "resources", "webinar-invite": "resources",
                 "product-update": "product", "case-study-digest": "cases"}
UNSUBSCRIBE_REASONS = ["too many emails", "not relevant", "never signed up", "other"]
LOST_REASONS = ["no budget", "bad timing", "competitor", "no decision", "bad fit"]
CONTACT_TOPICS = ["pricing", "enterprise plan", "partnership", "security review", "migration"]
SALES_ROLES = ["account executive", "solutions engineer", "sales development"]


class _Choice:
    """A weighted choice with precomputed cumulative weights (``random.choices`` is slower)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = [p[0] for p in pairs]
        self.cum = list(accumulate(p[1] for p in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]


_COUNTRY_CHOICE = _Choice([(c[0], c[1]) for c in COUNTRIES])
_INDUSTRY_CHOICE = _Choice([(i[0], i[1]) for i in INDUSTRIES])
_INDUSTRY_WORDS = {i[0]: i[3] for i in INDUSTRIES}
_SOURCE_CHOICE = _Choice(SOURCES)
_FREE_MAIL_CHOICE = _Choice(FREE_MAIL)
_DEPT_CHOICE = _Choice([("marketing", 30), ("sales", 15), ("revenue operations", 7), ("operations", 8),
                        ("it", 10), ("finance", 6), ("hr", 5), ("engineering", 10), ("other", 9)])
_SENIORITY_COMPANY = _Choice([("individual contributor", 31), ("manager", 24), ("head", 7), ("director", 13),
                              ("vp", 7), ("c-level", 6), ("owner", 2), ("founder", 2), ("student", 2)])
_SENIORITY_SMALL = _Choice([("individual contributor", 20), ("manager", 15), ("head", 5), ("director", 6),
                            ("vp", 4), ("c-level", 10), ("owner", 18), ("founder", 18), ("student", 2)])
_SENIORITY_FREE = _Choice([("individual contributor", 30), ("manager", 16), ("head", 3), ("director", 5),
                           ("vp", 2), ("c-level", 3), ("owner", 12), ("founder", 11), ("student", 18)])
_ASSET_TYPES_LOW = ["ebook", "ebook", "guide", "whitepaper", "report"]
_GATED_ASSETS = [a for a in ASSETS if a[1] != "brochure"]
_ASSET_BY_SLUG = {a[0]: a for a in ASSETS}


def _rng(seed: int, stream: int, index: int = 0) -> random.Random:
    """An independent generator for (seed, stream, index): distinct inputs give distinct seeds."""
    key = ((abs(seed) << 1 | (seed < 0)) << 80) | (index << 8) | stream
    return random.Random(key)


@functools.lru_cache(maxsize=4096)
def _week_label(week: int) -> str:
    """``2026-w07`` for the ISO week starting on the Monday ``week`` weeks after 1970-01-05."""
    year, num, _ = datetime.fromtimestamp((week * 7 + 4) * DAY, UTC).isocalendar()
    return f"{year}-w{num:02d}"


@functools.lru_cache(maxsize=16384)
def _month_label(day: int) -> str:
    d = datetime.fromtimestamp(day * DAY, UTC)
    return f"newsletter-{d.year}-{d.month:02d}"


def _heat(won: bool | None) -> float:
    """Deal momentum: deals that close won show more buying activity than fit alone explains, lost less."""
    return 1.0 if won is None else 1.25 if won else 0.9


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _ascii(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in norm if "a" <= ch <= "z")


# --------------------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Account:
    record: dict
    propensity: float  # account-level "in market" effect on the intent of its leads (log-odds)
    competitor: bool


@dataclass(slots=True)
class _Accounts:
    items: list[_Account]
    regular: list[int]  # indices of non-competitor accounts
    regular_choice: _Choice | None
    competitors: list[int]


@functools.lru_cache(maxsize=8)
def _accounts(config: DemoConfig) -> _Accounts:
    rng = _rng(config.seed, 1)
    n = config.accounts
    n_comp = (n >= 20) + (n >= 200) + (n >= 1000)
    used: set[str] = {c[0] for c in COMPETITORS}
    items: list[_Account] = []
    for i in range(n - n_comp):
        industry = _INDUSTRY_CHOICE.pick(rng)
        country = _COUNTRY_CHOICE.pick(rng)
        word = rng.choice(_INDUSTRY_WORDS[industry])
        base = rng.choice(NAME_PREFIXES) + rng.choice(NAME_SUFFIXES)
        r = rng.random()
        if r < 0.6:
            tld = "com"
        elif r < 0.75 and industry in ("software", "saas", "technology"):
            tld = "io"
        else:
            tld = _COUNTRY[country][3]
        stem = base.lower()
        domain = f"{stem}.{tld}"
        if domain in used:
            domain = f"{stem}{word.lower()}.{tld}"
        if domain in used:
            domain = f"{stem}-{word.lower()}.{tld}"
        if domain in used:
            domain = f"{stem}{i}.{tld}"
        used.add(domain)
        name = f"{base} {word}"
        if rng.random() < 0.4:
            name += LEGAL_FORMS.get(country, "")
        # company size: log-normal, median ~120 employees, a long enterprise tail
        employees = max(2, min(250_000, int(math.exp(rng.gauss(4.8, 1.5)))))
        per_employee = math.exp(rng.gauss(math.log(180_000), 0.45))
        if industry in ("nonprofit", "education"):
            per_employee *= 0.5
        revenue = float(round(employees * per_employee, -3))
        record = {"domain": domain, "name": name, "industry": industry, "employee_count": employees,
                  "annual_revenue": revenue, "country": country}
        items.append(_Account(record, rng.gauss(0.0, 0.55), False))
    for domain, name, industry, employees, revenue, country in COMPETITORS[:n_comp]:
        record = {"domain": domain, "name": name, "industry": industry, "employee_count": employees,
                  "annual_revenue": float(revenue), "country": country}
        items.append(_Account(record, 0.0, True))
    regular = [i for i, a in enumerate(items) if not a.competitor]
    # bigger companies produce more leads (several people of one buying committee)
    weights = [(items[i].record["employee_count"] ** 0.35) * math.exp(rng.gauss(0.0, 0.5)) for i in regular]
    choice = _Choice(list(zip(regular, weights, strict=True))) if regular else None
    return _Accounts(items, regular, choice, [i for i, a in enumerate(items) if a.competitor])


# --------------------------------------------------------------------------------------------------------
# Leads and their plans (who they are, when they are active, how it ends)
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    index: int
    lead: dict
    intent: float
    competitor: bool
    form: str  # the form that made them a lead (first identified event)
    created: int  # epoch seconds
    w_end: int  # identified events fall in [created, w_end)
    skew: float  # session times: created + span * u**skew (<1 rising, >1 fading)
    budget: int
    anon_id: str | None
    anon_start: int
    opp: bool  # became a sales opportunity (closed, or still open at the end of the period)
    won: bool | None
    deal: float  # expected deal size
    outcome: dict | None
    unsub_at: int | None
    bounce_at: int | None


def _seniority_title(rng: random.Random, seniority: str, dept: str) -> str:
    label = _DEPT_LABEL[dept]
    if seniority == "c-level":
        return _C_TITLES[dept]
    if seniority == "vp":
        return rng.choice([f"VP of {label}", f"Vice President, {label}", f"SVP {label}"])
    if seniority == "director":
        return rng.choice([f"Director of {label}", f"{label} Director", f"Senior Director, {label}"])
    if seniority == "head":
        return f"Head of {label}"
    if seniority == "manager":
        if dept == "marketing":
            return rng.choice(["Marketing Manager", "Marketing Operations Manager", "Demand Generation Manager"])
        return rng.choice([f"{label} Manager", f"Senior {label} Manager"])
    if seniority == "individual contributor":
        return rng.choice(_IC_TITLES[dept])
    if seniority == "student":
        return rng.choice(_STUDENT_TITLES)
    if seniority == "owner":
        return rng.choice(["Owner", "Owner & Managing Director", "Managing Director"])
    return rng.choice(["Founder", "Co-Founder & CEO", "Founder & CEO"])


def _phone(rng: random.Random, country: str) -> str | None:
    if rng.random() < 0.3:
        return None
    cc = _COUNTRY[country][2]
    if cc == "1":
        return f"+1 {rng.randint(201, 989)} 555 {rng.randint(100, 199):04d}"  # 555-01xx: fictional
    return f"+{cc} {rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"


def _landing_and_form(rng: random.Random, source: str, intent: float, campaign: str | None) -> tuple[str, str]:
    """The form that made the person a lead, and the page it was on."""
    if source == "events":
        return "badge-scan", f"/events/{campaign}"
    w_newsletter = 2.5 * (1.0 - intent) + 0.3
    w_ebook = 2.0
    w_webinar = 0.8 if source != "paid_search" else 0.3
    w_trial = 0.15 + 1.0 * intent
    w_demo = 0.05 + 0.7 * intent * intent
    w_contact = 0.05 + 0.35 * intent
    forms = _Choice([("newsletter", w_newsletter), ("ebook", w_ebook), ("webinar", w_webinar),
                     ("trial", w_trial), ("demo", w_demo), ("contact", w_contact)])
    form = forms.pick(rng)
    if form == "newsletter":
        landing = f"/blog/{rng.choice(BLOG)}" if rng.random() < 0.7 else "/"
    elif form == "ebook":
        asset = rng.choice(_GATED_ASSETS)[0]
        landing = f"/lp/{campaign}" if campaign and source in ("paid_search", "social") else f"/resources/{asset}"
    elif form == "webinar":
        landing = f"/webinars/{rng.choice(WEBINARS)}"
    elif form == "trial":
        landing = "/trial"
    elif form == "demo":
        landing = "/demo"
    else:
        landing = "/contact"
    return form, landing


def _iter_plans(config: DemoConfig) -> Iterator[_Plan]:
    accts = _accounts(config)
    start_ts = math.ceil(config.start.timestamp())
    end_ts = start_ts + config.days * DAY
    span = end_ts - start_ts
    seed = config.seed
    mean_events = config.events_per_lead
    used_emails: set[str] = set()
    comp_share = 0.004 if accts.competitors else 0.0
    free_share = 0.15 if accts.regular else 1.0
    for i in range(config.leads):
        rng = _rng(seed, 2, i)
        # --- who: account or free mail, person, attributes
        r = rng.random()
        account: _Account | None = None
        competitor = False
        if r < comp_share:
            account = accts.items[rng.choice(accts.competitors)]
            competitor = True
        elif r < comp_share + free_share:
            account = None
        else:
            account = accts.items[accts.regular_choice.pick(rng)]  # type: ignore[union-attr]
        employees = account.record["employee_count"] if account else 0
        if account is None:
            seniority = _SENIORITY_FREE.pick(rng)
        elif employees < 20:
            seniority = _SENIORITY_SMALL.pick(rng)
        else:
            seniority = _SENIORITY_COMPANY.pick(rng)
        if seniority in ("owner", "founder") or (seniority == "c-level" and rng.random() < 0.3):
            dept = "other" if rng.random() < 0.6 else _DEPT_CHOICE.pick(rng)
        else:
            dept = _DEPT_CHOICE.pick(rng)
        student = seniority == "student"
        title = _seniority_title(rng, seniority, dept)
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES).replace("-", " ")
        country = account.record["country"] if account and rng.random() < 0.85 else _COUNTRY_CHOICE.pick(rng)
        # --- email: company patterns, or free-mail with digits; unique over the whole data set
        f, l_ = _ascii(first), _ascii(last)
        if account is not None:
            domain = account.record["domain"]
            pat = rng.random()
            local = f"{f}.{l_}" if pat < 0.55 else f"{f[0]}{l_}" if pat < 0.8 else f if pat < 0.9 else f"{f}{l_[0]}"
        else:
            domain = _FREE_MAIL_CHOICE.pick(rng)
            pat = rng.random()
            if pat < 0.4:
                local = f"{f}.{l_}"
            elif pat < 0.7:
                local = f"{f}{l_}{rng.randint(1, 99)}"
            elif pat < 0.85:
                local = f"{f}_{l_}"
            else:
                local = f"{f[0]}{l_}{rng.randint(60, 2005)}"
        email = f"{local}@{domain}"
        tries = 0
        while email in used_emails:
            tries += 1
            suffix = str(rng.randint(2, 99)) if tries < 4 else f"{i}"
            email = f"{local}{suffix}@{domain}" if tries < 4 else f"{local}.{suffix}@{domain}"
        used_emails.add(email)
        # --- acquisition
        source = _SOURCE_CHOICE.pick(rng)
        if source == "paid_search":
            medium, campaign = "cpc", rng.choice(_PAID_CAMPAIGNS)
        elif source == "social":
            paid = rng.random() < 0.5
            medium, campaign = ("paid_social", rng.choice(_SOCIAL_CAMPAIGNS)) if paid else ("social", None)
        elif source == "email":
            medium, campaign = "email", rng.choice(_EMAIL_CAMPAIGNS)
        elif source == "events":
            medium, campaign = "event", rng.choice(_EVENT_CAMPAIGNS)
        elif source == "organic_search":
            medium, campaign = "organic", None
        elif source == "referral":
            medium, campaign = "referral", None
        else:
            medium, campaign = "(none)", None
        # --- hidden intent: fit + account "in market" + noise
        z = -0.55 + _SENIORITY_INTENT[seniority] + _DEPT_INTENT[dept] + _SOURCE_INTENT[source]
        if account is None:
            z -= 0.7
        else:
            z += -0.5 if employees < 10 else -0.15 if employees < 50 else 0.45 if employees < 5000 else 0.15
            z += 0.3 if _TARGET_INDUSTRY.get(account.record["industry"]) else -0.05
            z += account.propensity
        z += rng.gauss(0.0, 0.8)
        intent = _sigmoid(z)
        if competitor:
            intent = 0.55 + 0.3 * rng.random()  # they look around a lot, and never buy
        form, landing = _landing_and_form(rng, source, intent, campaign)
        eu = _COUNTRY[country][4]
        consent = rng.random() < (0.7 if eu else 0.85)
        # --- when: leads arrive through the period (slowly growing), anonymous browsing before some
        created = start_ts + int((span - 2 * HOUR) * rng.random() ** 0.85)
        anon_id = None
        anon_start = created
        if rng.random() < 0.04 + 0.12 * intent:
            before = int(rng.uniform(0.5, 21.0) * DAY)
            anon_start = max(start_ts, created - before)
            if created - anon_start >= 30 * MINUTE:
                anon_id = f"anon-{seed}-{i:x}-{rng.getrandbits(32):08x}"
            else:
                anon_start = created
        # --- how it goes: opportunity, outcome, deal size, unsubscribes and bounces
        deal = (employees / 50.0) ** 0.35 * 9000.0 if account else 2500.0
        deal = round(deal * math.exp(rng.gauss(0.0, 0.45)), -2) or 500.0
        p_opp = 0.0 if competitor or student else 0.8 * _sigmoid(7.0 * (intent - 0.56))
        opp = rng.random() < p_opp
        won: bool | None = None
        outcome = None
        unsub_at = bounce_at = None
        if opp:
            cycle = min(150 * DAY, max(7 * DAY, int(math.exp(rng.gauss(math.log(40 * DAY), 0.55)))))
            t_end = created + cycle
            if t_end < end_ts:  # closed: won or lost, shortly after the last activity
                w_end = t_end
                won = rng.random() < _sigmoid(7.0 * (intent - 0.74))
                closed = t_end + int(rng.uniform(1.0, 21.0) * DAY)
                if won:
                    reason = None
                    amount: float | None = float(deal)
                else:
                    amount = None
                    small = account is None or employees < 20
                    reason = _Choice([("no budget", 3.0 if small else 1.5), ("bad timing", 2.0),
                                      ("competitor", 1.5), ("no decision", 2.0),
                                      ("bad fit", 0.5 + 2.5 * (1.0 - intent))]).pick(rng)
                outcome = {"email": email, "result": "won" if won else "lost", "amount": amount,
                           "closed_at": datetime.fromtimestamp(closed, UTC), "reason": reason}
            else:  # still open at the end of the period
                w_end = end_ts
            skew = min(0.75, math.exp(-1.6 * (intent - 0.45)))
        else:
            life = min(400 * DAY, max(DAY, int(math.exp(rng.gauss(math.log(45 * DAY), 0.9)))))
            w_end = min(end_ts, created + life)
            skew = math.exp(-1.6 * (intent - 0.45))
            if consent and not competitor:
                if rng.random() < 0.02 + 0.14 * (1.0 - intent) ** 2:
                    unsub_at = created + int((w_end - created) * rng.uniform(0.45, 0.9))
                    skew = max(skew, 2.5)  # visits decline before the unsubscribe
                elif rng.random() < (0.08 if account is None else 0.015):
                    bounce_at = min(w_end - 1, created + int(rng.uniform(0.05, 3.0) * DAY))
        # --- how much: heavy tailed, more for high intent; mean ~= events_per_lead over all leads
        activity = math.exp(rng.gauss(-0.36, 0.85)) * (0.35 + 1.3 * intent) / 1.04
        activity *= _heat(won)
        budget = max(2, min(int(mean_events * 50), round(mean_events * activity)))
        lead = {
            "email": email, "first_name": first, "last_name": last, "title": title, "seniority": seniority,
            "department": dept, "phone": _phone(rng, country), "country": country, "source": source,
            "medium": medium, "campaign": campaign, "landing_page": landing, "consent": consent,
            "unsubscribed": unsub_at is not None,
            "company_domain": account.record["domain"] if account else None,
            "created_at": datetime.fromtimestamp(created, UTC),
        }
        yield _Plan(i, lead, intent, competitor, form, created, w_end, skew, budget, anon_id, anon_start, opp,
                    won, deal, outcome, unsub_at, bounce_at)


# --------------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------------


def _lead_events(config: DemoConfig, plan: _Plan, end_ts: int) -> list[dict]:
    rng = _rng(config.seed, 3, plan.index)
    rand = rng.random

    def randint(lo: int, hi: int) -> int:  # cheaper than Random.randint, and as good for this
        return lo + int(rand() * (hi - lo + 1))

    def choice(seq: Sequence[Any]) -> Any:
        return seq[int(rand() * len(seq))]

    intent = plan.intent
    heat = _heat(plan.won)
    product = choice(PRODUCTS)  # what this lead is interested in
    quote_at = 0
    email = plan.lead["email"]
    source = plan.lead["source"]
    a, b = plan.created, plan.w_end
    out: list[tuple[int, str, dict, int]] = []  # (t, type, properties, kind: 0 identified, 1 anon, 2 both)
    add = out.append
    last_ok = min(b, end_ts) - 1

    def page(t: int, url: str, title: str, base: float, ref: str, kind: int = 0) -> int:
        secs = int(base * math.exp(rng.gauss(-0.25 + 0.7 * intent, 0.8)))
        secs = 2 if secs < 2 else 1800 if secs > 1800 else secs
        add((t, "page_view", {"url": url, "title": title, "referrer": ref, "seconds_on_page": secs}, kind))
        return t + secs + randint(1, 8)

    def group_cum(ph: float) -> tuple[list[float], float]:
        w = (1.2, 3.5 * (1.15 - intent), 1.0 + 2.0 * intent, (0.15 + 3.2 * intent * (0.25 + ph)) * heat,
             0.3 + 1.5 * intent, 0.2 + 1.4 * intent * ph, 0.1 + 0.6 * (1.0 - intent), 0.8)
        cum = list(accumulate(w))
        return cum, cum[-1]

    def browse(t: int, n_pages: int, ph: float, first_ref: str, kind: int = 0, first: tuple | None = None) -> int:
        """A web session of n_pages page views; returns the number of events produced."""
        cum, total = group_cum(ph)
        ref = first_ref
        count = 0
        for k in range(n_pages):
            if k == 0 and first is not None:
                url, title, base = first
                g = -1
            else:
                g = bisect_right(cum, rand() * total)
                url, title, base = choice(_GROUP_PAGES[g])
            t = page(t, url, title, base, ref, kind)
            count += 1
            ref = SITE + url
            if kind == 0 and (g == 1 or g == 7) and rand() < 0.05 + 0.1 * intent:
                count += download(t, url, ph)
                t += randint(20, 90)
        return count

    def download(t: int, url: str, ph: float) -> int:
        if rand() < (0.25 + 2.4 * intent * ph) * heat:
            asset = choice(_ASSETS_BY_TYPE["brochure"])
        else:
            asset = choice(_ASSETS_BY_TYPE[choice(_ASSET_TYPES_LOW)])
        add((t, "form_submit", {"form": f"download-{asset[1]}", "url": f"/resources/{asset[0]}"}, 0))
        add((t + randint(1, 4), "content_download",
             {"asset": asset[0], "asset_type": asset[1], "url": f"/resources/{asset[0]}"}, 0))
        return 2

    def email_id(campaign: str, t: int) -> str:
        # one send per campaign and ISO week (the newsletter: per month), shared by all leads
        if campaign == "newsletter":
            return _month_label(t // DAY)
        return f"{campaign}-{_week_label((t - 4 * DAY) // (7 * DAY))}"

    # --- anonymous browsing before the first form: the landing page first
    landing = plan.lead["landing_page"]
    ref0 = choice(_REFERRERS[source])
    if plan.anon_id is not None:
        n_sessions = 1 + (rand() < 0.5) + (rand() < 0.3 * intent)
        anon_span = a - plan.anon_start
        times = sorted(plan.anon_start + int(anon_span * rand() * 0.95) for _ in range(n_sessions))
        anon_pages = 0
        for s, t in enumerate(times):
            first = None
            if s == 0:
                first = _page_for(landing)
            n_pages = min(8, 1 + int(rng.expovariate(1.0 / (0.5 + 2.0 * intent))))
            anon_pages += browse(t, n_pages, 0.1, ref0 if s == 0 else "", 1, first)
        used = anon_pages
    else:
        used = 0

    # --- the form that made them a lead (at created_at); carries the anonymous_id when there is one
    form = plan.form
    kind0 = 2 if plan.anon_id is not None else 0
    add((a, "form_submit", {"form": form, "url": landing}, kind0))
    t1 = a + randint(1, 5)
    if form == "newsletter":
        add((t1, "newsletter_signup", {"list": "monthly-newsletter"}, 0))
    elif form == "ebook":
        slug = landing.rsplit("/", 1)[1]
        asset = _ASSET_BY_SLUG.get(slug) or choice(_GATED_ASSETS)
        add((t1, "content_download", {"asset": asset[0], "asset_type": asset[1], "url": landing}, 0))
    elif form == "webinar":
        add((t1, "webinar_registered", {"webinar": landing.rsplit("/", 1)[1]}, 0))
    elif form == "trial":
        add((t1, "trial_started", {"plan": choice(PLANS[:2])}, 0))
    elif form == "demo":
        add((t1, "demo_requested", {"product": product}, 0))
    elif form == "contact":
        add((t1, "contact_request", {"topic": choice(CONTACT_TOPICS)}, 0))
    used += 1 if form == "badge-scan" else 2
    if form == "webinar" and rand() < 0.35 + 0.4 * intent:
        t = a + randint(2, 10) * DAY
        if t < last_ok:
            add((t, "webinar_attended", {"webinar": landing.rsplit("/", 1)[1], "minutes": randint(8, 60)}, 0))
            used += 1

    # --- the sales journey: hand-raise, demo, trial, quote, proposal (opportunities, and a few others)
    w = b - a
    hand_forms = ("demo", "contact")
    if plan.opp:
        boost = 0.0 if plan.won is None else 0.2 if plan.won else -0.12
        if form not in hand_forms:
            t = a + int(w * rng.uniform(0.1, 0.5))
            r = rand()
            if r < 0.6:
                add((t, "page_view", {"url": "/demo", "title": _DEMO_PAGE[1], "referrer": SITE + "/pricing",
                                      "seconds_on_page": randint(30, 120)}, 0))
                add((t + 60, "form_submit", {"form": "demo", "url": "/demo"}, 0))
                add((t + 62, "demo_requested", {"product": product}, 0))
                used += 3
            elif r < 0.85:
                add((t, "form_submit", {"form": "contact", "url": "/contact"}, 0))
                add((t + 3, "contact_request", {"topic": choice(CONTACT_TOPICS)}, 0))
                used += 2
            else:
                add((t, "meeting_booked", {"with": choice(SALES_ROLES)}, 0))
                used += 1
            hand = t
        else:
            hand = a
        if rand() < 0.55 + boost + 0.2 * intent:
            t = hand + int((b - hand) * rng.uniform(0.05, 0.35))
            add((t, "demo_attended", {"product": product, "minutes": randint(20, 65)}, 0))
            used += 1
        if form != "trial" and rand() < 0.25 + 0.3 * intent:
            t = hand + int((b - hand) * rng.uniform(0.02, 0.4))
            add((t, "trial_started", {"plan": choice(PLANS)}, 0))
            used += 1
        if rand() < 0.2 + boost + 0.4 * intent:
            t = quote_at = a + int(w * rng.uniform(0.55, 0.88))
            add((t, "quote_requested", {"product": product,
                                        "amount": round(plan.deal * rng.uniform(0.9, 1.4), 2)}, 0))
            used += 1
        if rand() < 0.1 + boost + 0.35 * intent:
            t = max(quote_at, a + int(w * rng.uniform(0.7, 0.9))) + int(w * rng.uniform(0.01, 0.08))
            add((t, "proposal_requested", {"product": product,
                                           "amount": round(plan.deal * rng.uniform(0.9, 1.2), 2)}, 0))
            used += 1
        if rand() < 0.3:
            t = a + int(w * rng.uniform(0.3, 0.9))
            add((t, "meeting_booked", {"with": choice(SALES_ROLES)}, 0))
            used += 1
    elif not plan.competitor and intent > 0.35 and rand() < 0.25 * intent:  # hand-raisers that go nowhere
        t = a + int(w * rng.uniform(0.1, 0.8))
        if rand() < 0.5:
            add((t, "form_submit", {"form": "demo", "url": "/demo"}, 0))
            add((t + 2, "demo_requested", {"product": product}, 0))
            used += 2
        else:
            add((t, "trial_started", {"plan": choice(PLANS[:2])}, 0))
            used += 1

    # --- negative signals
    email_stop = b
    if plan.unsub_at is not None:
        t = plan.unsub_at
        eid = email_id("newsletter", t)
        add((t - randint(60, 3600), "email_open", {"email_id": eid, "campaign": "newsletter"}, 0))
        add((t, "email_unsubscribe", {"email_id": eid, "reason": choice(UNSUBSCRIBE_REASONS)}, 0))
        used += 2
        email_stop = t - 3600
    elif plan.bounce_at is not None:
        t = plan.bounce_at
        add((t, "email_bounce", {"email_id": email_id("nurture-playbook", t),
                                 "kind": "hard" if rand() < 0.8 else "soft"}, 0))
        used += 1
        email_stop = t

    # --- sessions: web visits, emails, ads, social, webinars until the budget is spent
    consent = plan.lead["consent"]
    skew = plan.skew
    room = max(w - HOUR, 1)
    w_email = (2.5 + 2.5 * (1.0 - intent)) if consent else 0.0
    w_ad = 0.6 if source in ("paid_search", "social") else 0.2
    w_web = 5.0
    w_social = 0.3
    w_webinar = 0.25 + 0.2 * intent
    campaigns = EMAIL_CAMPAIGNS_HIGH if intent > 0.5 else EMAIL_CAMPAIGNS_LOW
    page_mean = 0.6 + 2.4 * intent
    remaining = plan.budget - used
    while remaining > 0:
        t = a + 60 + int(room * rand() ** skew)
        ph = (t - a) / w
        if plan.unsub_at is not None and t > plan.unsub_at and rand() < 0.85:
            remaining -= 1  # fading away after unsubscribing
            continue
        total = w_web + (w_email if t < email_stop else 0.0) + w_ad + w_social + w_webinar
        r = rand() * total
        if r < w_web:
            n = 1 + int(rng.expovariate(1.0 / page_mean))
            if n > remaining:
                n = remaining
            remaining -= browse(t, n, ph, choice(_REFERRERS[source]) if rand() < 0.5 else "")
            continue
        r -= w_web
        if t < email_stop and r < w_email:
            campaign = choice(campaigns)
            eid = email_id(campaign, t)
            add((t, "email_open", {"email_id": eid, "campaign": campaign}, 0))
            remaining -= 1
            if rand() < 0.08 + 0.35 * intent:
                url, title, base = choice(PAGES[_EMAIL_TARGET[campaign]])
                t += randint(5, 600)
                add((t, "email_click", {"email_id": eid, "url": SITE + url, "campaign": campaign}, 0))
                page(t + 2, url, title, base, "")
                remaining -= 2
            continue
        r -= w_email if t < email_stop else 0.0
        if r < w_ad:
            network = "linkedin" if source == "social" or rand() < 0.3 else "google"
            camp = plan.lead["campaign"] or (_SOCIAL_CAMPAIGNS[2] if network != "google" else _PAID_CAMPAIGNS[0])
            target = _PRICING if intent * ph > 0.3 and rand() < 0.5 else PAGES["product"][0]
            add((t, "ad_click", {"network": network, "campaign": camp, "ad": f"{camp}-{randint(1, 4)}"}, 0))
            page(t + 2, target[0], target[1], target[2], f"https://www.{network}.com/")
            remaining -= 2
            continue
        r -= w_ad
        if r < w_social:
            action = choice(("like", "like", "share", "comment", "follow"))
            add((t, "social_engagement", {"network": choice(("linkedin", "linkedin", "twitter")), "action": action},
                 0))
            remaining -= 1
            continue
        webinar = choice(WEBINARS)
        add((t, "form_submit", {"form": "webinar", "url": f"/webinars/{webinar}"}, 0))
        add((t + 2, "webinar_registered", {"webinar": webinar}, 0))
        remaining -= 2
        if rand() < 0.3 + 0.4 * intent:
            t2 = t + randint(1, 10) * DAY
            if t2 < b:
                add((t2, "webinar_attended", {"webinar": webinar, "minutes": randint(5, 60)}, 0))
                remaining -= 1

    # --- clamp into the lead's windows (anonymous: before the form; identified: [created, end)), order
    for j, item in enumerate(out):
        t, kind = item[0], item[3]
        if kind == 1:
            if t >= a:
                out[j] = (a - 1, *item[1:])
        elif t > last_ok or t < a:
            out[j] = (last_ok if t > last_ok else a, *item[1:])
    out.sort(key=itemgetter(0))
    seed = config.seed
    idx = plan.index
    events = []
    for n, (t, etype, props, kind) in enumerate(out):
        ev: dict[str, Any] = {"message_id": f"demo-{seed}-{idx}-{n}", "type": etype,
                              "occurred_at": datetime.fromtimestamp(t, UTC)}
        if kind == 0:
            ev["email"] = email
        elif kind == 1:
            ev["anonymous_id"] = plan.anon_id
        else:
            ev["email"] = email
            ev["anonymous_id"] = plan.anon_id
        ev["properties"] = props
        if kind == 1:
            ev["_lead_email"] = email
        events.append(ev)
    return events


@functools.cache
def _pages_by_url() -> dict[str, tuple[str, str, float]]:
    pages = [p for g in _GROUPS for p in PAGES[g]]
    pages += [_DEMO_PAGE, _TRIAL_PAGE]
    pages += [(f"/webinars/{w}", f"{_title_from_slug(w)} | Webinar | {VENDOR}", 40.0) for w in WEBINARS]
    return {p[0]: p for p in pages}


def _page_for(url: str) -> tuple[str, str, float]:
    """The catalogue entry of a landing page (campaign and event pages get a generic title)."""
    page = _pages_by_url().get(url)
    if page is None:
        page = (url, f"{_title_from_slug(url.rstrip('/').rsplit('/', 1)[-1])} | {VENDOR}", 45.0)
    return page


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


def iter_accounts(config: DemoConfig) -> Iterator[dict]:
    """Accounts: ``domain, name, industry, employee_count, annual_revenue, country``."""
    for acct in _accounts(config).items:
        yield dict(acct.record)


def iter_leads(config: DemoConfig) -> Iterator[dict]:
    """Leads in a stable order: ``email, first_name, last_name, title, seniority, department, phone, country,
    source, medium, campaign, landing_page, consent, unsubscribed, company_domain, created_at``."""
    for plan in _iter_plans(config):
        yield plan.lead


def iter_events(config: DemoConfig) -> Iterator[dict]:
    """Events grouped by lead (in :func:`iter_leads` order), sorted by ``occurred_at`` within a lead.

    Keys: ``message_id, type, occurred_at, email, properties``; anonymous page views have ``anonymous_id``
    (and ``_lead_email``) instead of ``email``; the identifying ``form_submit`` has both.
    """
    end_ts = math.ceil(config.start.timestamp()) + config.days * DAY
    for plan in _iter_plans(config):
        yield from _lead_events(config, plan, end_ts)


def iter_outcomes(config: DemoConfig) -> Iterator[dict]:
    """Closed opportunities: ``email, result ('won'|'lost'), amount (won), closed_at, reason (lost)``."""
    for plan in _iter_plans(config):
        if plan.outcome is not None:
            yield dict(plan.outcome)


def generate(config: DemoConfig) -> DemoData:
    """The whole data set in memory (one pass over the leads)."""
    data = DemoData(accounts=list(iter_accounts(config)))
    end_ts = math.ceil(config.start.timestamp()) + config.days * DAY
    for plan in _iter_plans(config):
        data.leads.append(plan.lead)
        data.events.extend(_lead_events(config, plan, end_ts))
        if plan.outcome is not None:
            data.outcomes.append(dict(plan.outcome))
    return data
