"""The shared part of the seed: people, teams, lookups, sources and controls.

The incidents themselves live one module each (kiro_2025, us_east_1_2025,
retail_2026_03, replit_2025) and are gathered in INCIDENTS at the bottom.

Every source row names where the fact was read. Where shared/DOMAIN.md names
only a site, the URL is the site's root (or a section page when one site
published two of the articles, because Source.url is unique) and the note
says the exact article URL was not recorded: article paths are never guessed.
"""

from datetime import date

from incidents.models import ImpactFigure, TimelineEvent
from incidents.models.vocab import Basis, ControlStatus, SourceKind
from incidents.roles import APPROVERS, LEADERSHIP, REVIEWERS

from . import kiro_2025, replit_2025, retail_2026_03, us_east_1_2025
from .common import cited, ours

# A documented demo login; the command refuses to create it outside DEBUG.
DEMO_PASSWORD = "demo"

USERS = [
    {
        "username": "reviewer",
        "first_name": "Riley",
        "last_name": "Reviewer",
        "groups": [REVIEWERS],
        "is_staff": False,
        "is_superuser": False,
    },
    {
        "username": "approver",
        "first_name": "Avery",
        "last_name": "Approver",
        "groups": [APPROVERS],
        "is_staff": False,
        "is_superuser": False,
    },
    {
        "username": "leader",
        "first_name": "Logan",
        "last_name": "Leader",
        "groups": [LEADERSHIP],
        "is_staff": False,
        "is_superuser": False,
    },
    {
        "username": "admin",
        "first_name": "Ada",
        "last_name": "Admin",
        "groups": [],
        "is_staff": True,
        "is_superuser": True,
    },
    # Extra owners, so action items are not all on one desk.
    {
        "username": "dana",
        "first_name": "Dana",
        "last_name": "Owner",
        "groups": [REVIEWERS],
        "is_staff": False,
        "is_superuser": False,
    },
    {
        "username": "omar",
        "first_name": "Omar",
        "last_name": "Owner",
        "groups": [REVIEWERS],
        "is_staff": False,
        "is_superuser": False,
    },
]

TEAMS = [
    {"name": "Cost management", "slug": "cost-management", "members": ["reviewer", "dana"]},
    {"name": "Database platform", "slug": "database-platform", "members": ["omar", "approver"]},
    {"name": "Retail checkout", "slug": "retail-checkout", "members": ["dana", "omar"]},
    {"name": "Agent platform", "slug": "agent-platform", "members": ["reviewer", "omar"]},
]

# Service name -> owning team name.
SERVICES = {
    "AWS Cost Explorer": "Cost management",
    "Amazon DynamoDB": "Database platform",
    "Amazon EC2": "Database platform",
    "Network Load Balancer (NLB)": "Database platform",
    "Amazon Redshift": "Database platform",
    "Amazon.com retail website": "Retail checkout",
    "Amazon.com shopping cart": "Retail checkout",
    "Amazon.com ordering (North America)": "Retail checkout",
    "Kiro": "Agent platform",
    "Amazon Q": "Agent platform",
    "Replit Agent": "Agent platform",
    "SaaStr production database (Replit app)": "Agent platform",
}

# A service the seed renamed -> its former names, so an earlier seed's row is renamed in place.
SERVICE_FORMER_NAMES = {"Amazon Q": ["Amazon Q Developer"]}

REGIONS = [
    {"code": "us-east-1", "name": "US East (N. Virginia)"},
    {
        # DOMAIN.md: "one of the two mainland-China regions"; no source says which.
        "code": "cn-mainland (one of two)",
        "name": "One of the two AWS mainland-China regions; the sources do not say which one",
    },
    {"code": "North America (retail)", "name": "Amazon.com's North American storefronts"},
]

TAGS = [
    "ai-agent",
    "access-control",
    "disputed-attribution",
    "dns",
    "automation",
    "retail",
    "config-change",
    "stale-docs",
    "data-loss",
    "vibe-coding",
    "metastable-failure",
]

_NOT_RECORDED = "Exact article URL not recorded in our reference notes; the URL is the site's root."

SOURCES = {
    # --- December 2025, AWS Cost Explorer (Kiro) ---
    "ft_kiro": {
        "cite_as": "FT, via The Register",
        "url": "https://www.ft.com/",
        "title": "Financial Times report on Kiro and the AWS Cost Explorer interruption (headline not recorded)",
        "publisher": "Financial Times",
        "kind": SourceKind.PRESS,
        "published_on": date(2026, 2, 20),
        "published_approx": True,
        "note": f"Read via The Register (2026-02-24). {_NOT_RECORDED}",
    },
    "register_kiro": {
        "cite_as": "The Register",
        "url": "https://www.theregister.com/",
        "title": "The Register on the FT's Kiro report (headline not recorded)",
        "publisher": "The Register",
        "kind": SourceKind.PRESS,
        "published_on": date(2026, 2, 24),
        "published_approx": False,
        "note": f"Carries the FT's account. {_NOT_RECORDED}",
    },
    "amazon_kiro_correction": {
        "cite_as": "Amazon's correction",
        "url": "https://www.aboutamazon.com/",
        "title": "Correcting the Financial Times report about AWS, Kiro, and AI",
        "publisher": "Amazon",
        "kind": SourceKind.VENDOR_PRIMARY,
        "published_on": date(2026, 2, 20),
        "published_approx": True,
        "note": f"Read through secondaries; published about 2026-02-20. {_NOT_RECORDED}",
    },
    "aiaaic_kiro": {
        "cite_as": "AIAAIC",
        "url": "https://www.aiaaic.org/",
        "title": "AIAAIC Repository entry on the AWS Kiro incident (title not recorded)",
        "publisher": "AIAAIC",
        "kind": SourceKind.ANALYST,
        "published_on": None,
        "published_approx": False,
        "note": f"Reports the corrective actions (mandatory peer review, training). {_NOT_RECORDED}",
    },
    "tectack_kiro": {
        "cite_as": "tectack.org",
        "url": "https://tectack.org/",
        "title": "tectack.org on the AWS Kiro incident (title not recorded)",
        "publisher": "tectack.org",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": _NOT_RECORDED,
    },
    "lastweekinaws_kiro": {
        "cite_as": "Last Week in AWS",
        "url": "https://www.lastweekinaws.com/",
        "title": "Last Week in AWS on the Kiro incident (title not recorded)",
        "publisher": "Last Week in AWS",
        "kind": SourceKind.ANALYST,
        "published_on": None,
        "published_approx": False,
        "note": _NOT_RECORDED,
    },
    "giganectar_kiro": {
        "cite_as": "giganectar.com",
        "url": "https://giganectar.com/",
        "title": "giganectar.com on AWS's response to the Kiro incident (title not recorded)",
        "publisher": "giganectar.com",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Reports the peer-review mandate and training. {_NOT_RECORDED}",
    },
    "vuink_kiro_preview": {
        "cite_as": "vuink.com",
        "url": "https://vuink.com/",
        "title": "vuink.com on the Kiro preview (title not recorded)",
        "publisher": "vuink.com",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Dates the Kiro preview to 2025-07-14. {_NOT_RECORDED}",
    },
    # --- October 2025, AWS us-east-1 ---
    "aws_101925": {
        "cite_as": "AWS summary",
        "url": "https://aws.amazon.com/message/101925/",
        "title": "Summary of the Amazon DynamoDB Service Disruption in Northern Virginia (US-EAST-1) Region",
        "publisher": "Amazon Web Services",
        "kind": SourceKind.VENDOR_PRIMARY,
        "published_on": None,
        "published_approx": False,
        "note": (
            "Primary source; times are PDT. Some times (marked in the event text) were taken from a markdown "
            "conversion of the page or from blogs quoting it. Publication date not recorded in our notes."
        ),
    },
    "ppcland_status": {
        "cite_as": "AWS status page, per ppcland.com",
        "url": "https://ppcland.com/",
        "title": "ppcland.com on the AWS status-page updates during the us-east-1 outage (title not recorded)",
        "publisher": "ppcland.com",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Relays AWS's status-page updates, whose times differ from the later summary. {_NOT_RECORDED}",
    },
    "bbc_us_east_1": {
        "cite_as": "BBC, via a mirror",
        "url": "https://www.bbc.com/",
        "title": "BBC report on the AWS outage (headline not recorded)",
        "publisher": "BBC",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Read via a mirror. {_NOT_RECORDED}",
    },
    "ndtvprofit_bloomberg": {
        "cite_as": "Bloomberg, via ndtvprofit.com",
        "url": "https://www.ndtvprofit.com/",
        "title": "Bloomberg report on the AWS outage, via NDTV Profit (headline not recorded)",
        "publisher": "Bloomberg (via NDTV Profit)",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Bloomberg's report read on ndtvprofit.com. {_NOT_RECORDED}",
    },
    "evrimagaci_airlines": {
        "cite_as": "evrimagaci.org, summarising BBC and Reuters",
        "url": "https://evrimagaci.org/",
        "title": "evrimagaci.org summary of BBC and Reuters coverage of the AWS outage (title not recorded)",
        "publisher": "evrimagaci.org",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Summarises BBC and Reuters; names Delta and United. {_NOT_RECORDED}",
    },
    "heraldtimes_airlines": {
        "cite_as": "heraldtimes.org",
        "url": "https://heraldtimes.org/",
        "title": "heraldtimes.org on airlines hit by the AWS outage (title not recorded)",
        "publisher": "heraldtimes.org",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Names Delta and United. {_NOT_RECORDED}",
    },
    # --- March 2026, Amazon.com retail ---
    "bi_retail": {
        "cite_as": "Business Insider",
        "url": "https://www.businessinsider.com/",
        "title": (
            "Business Insider report on Amazon.com outages, with Treadwell's internal documents (headline not recorded)"
        ),
        "publisher": "Business Insider",
        "kind": SourceKind.PRESS,
        "published_on": date(2026, 3, 10),
        "published_approx": False,
        "note": f"Read via news9live.com, openclawai.io and cybernative.ai. {_NOT_RECORDED}",
    },
    "aihola_retail": {
        "cite_as": "aihola.com, relaying CNBC and the FT",
        "url": "https://aihola.com/",
        "title": "aihola.com on CNBC's and the FT's reporting of Amazon's retail incidents (title not recorded)",
        "publisher": "aihola.com",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Our route to CNBC's and the FT's reports. {_NOT_RECORDED}",
    },
    "banandre_retail": {
        "cite_as": "banandre.com",
        "url": "https://banandre.com/",
        "title": "banandre.com on Amazon's March 2026 incidents and AI (title not recorded)",
        "publisher": "banandre.com",
        "kind": SourceKind.ANALYST,
        "published_on": None,
        "published_approx": False,
        "note": f"Relays CNBC and the FT; names March 5 as the AI-linked incident. {_NOT_RECORDED}",
    },
    "dailyscout_retail": {
        "cite_as": "Business Insider, via thedailyscout.com",
        "url": "https://thedailyscout.com/",
        "title": (
            "The Daily Scout on Business Insider's report of senior sign-off for AI-assisted changes (title not "
            "recorded)"
        ),
        "publisher": "thedailyscout.com",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Credits businessinsider.com for the senior sign-off requirement. {_NOT_RECORDED}",
    },
    "grokipedia_retail": {
        "cite_as": "Grokipedia",
        "url": "https://grokipedia.com/",
        "title": "Grokipedia entry on the March 2026 Amazon.com outages (title not recorded)",
        "publisher": "Grokipedia",
        "kind": SourceKind.ANALYST,
        "published_on": None,
        "published_approx": False,
        "note": f"Names March 2 as the AI-linked incident, unlike banandre.com. {_NOT_RECORDED}",
    },
    "amazon_retail_correction": {
        "cite_as": "Amazon's correction of 2026-03-11",
        # aboutamazon.com published two corrections; Source.url is unique, so
        # this one gets the site's news section rather than a guessed path.
        "url": "https://www.aboutamazon.com/news",
        "title": "Correcting the Financial Times report about recent Amazon.com service incidents and AI",
        "publisher": "Amazon",
        "kind": SourceKind.VENDOR_PRIMARY,
        "published_on": date(2026, 3, 11),
        "published_approx": False,
        "note": (
            "Primary text stored. Exact article URL not recorded in our reference notes; the URL is the "
            "site's news section (the site's root is used for Amazon's Kiro correction)."
        ),
    },
    # --- July 2025, Replit / SaaStr ---
    "lemkin_thread": {
        "cite_as": "Lemkin's X thread",
        "url": "https://x.com/",
        "title": "Jason Lemkin's X thread on the Replit agent deleting SaaStr's production database",
        "publisher": "Jason Lemkin (SaaStr), on X",
        "kind": SourceKind.AFFECTED_PARTY,
        "published_on": date(2025, 7, 18),
        "published_approx": False,
        "note": f"Captured by ai-entrepreneurship.wiki and failureindex.ai. {_NOT_RECORDED}",
    },
    "tomcomp_windows_central": {
        "cite_as": "Windows Central, via tom-comp.com",
        "url": "https://tom-comp.com/",
        "title": "Windows Central's report on the Replit database deletion, via tom-comp.com (title not recorded)",
        "publisher": "Windows Central (via tom-comp.com)",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": _NOT_RECORDED,
    },
    "digwatch_replit": {
        "cite_as": "dig.watch",
        "url": "https://dig.watch/",
        "title": "dig.watch on the Replit agent incident (title not recorded)",
        "publisher": "dig.watch",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": _NOT_RECORDED,
    },
    "replit_release": {
        "cite_as": "Replit's release of 2025-07-21",
        "url": "https://replit.com/",
        "title": "Replit release of 2025-07-21: development/production database separation (beta)",
        "publisher": "Replit",
        "kind": SourceKind.VENDOR_PRIMARY,
        "published_on": date(2025, 7, 21),
        "published_approx": False,
        "note": (
            "Vendor's own words, incl. apps using 'a single database for development and live customer data'. "
            f"{_NOT_RECORDED}"
        ),
    },
    "theaifiles_replit_blog": {
        "cite_as": "theaifiles.app",
        "url": "https://theaifiles.app/",
        "title": "theaifiles.app on Replit's blog post 'Safest Place for Vibe Coding' (title not recorded)",
        "publisher": "theaifiles.app",
        "kind": SourceKind.PRESS,
        "published_on": None,
        "published_approx": False,
        "note": f"Dates Replit's blog post to 2025-07-08. {_NOT_RECORDED}",
    },
    "datapace_rollback": {
        "cite_as": "Lemkin, quoted by datapace.ai",
        "url": "https://datapace.ai/",
        "title": "datapace.ai on the Replit incident, quoting Lemkin on the rollback (title not recorded)",
        "publisher": "datapace.ai",
        "kind": SourceKind.ANALYST,
        "published_on": None,
        "published_approx": False,
        "note": f"Quotes Lemkin: 'Replit was wrong, and the rollback did work'. {_NOT_RECORDED}",
    },
    # securie.ai is deliberately absent: its date (2026) and its hourly-backup
    # restore contradict the primary accounts (DOMAIN.md 3.4).
}

CONTROLS = [
    {
        "name": "Mandatory peer review for production access",
        "description": [
            cited(
                "Production access needs a second person's review, reported as AWS's corrective action after the "
                "December 2025 Cost Explorer interruption, together with training",
                "aiaaic_kiro",
                "giganectar_kiro",
            ),
            ours(
                "Kiro requesting authorization by default is how Kiro already worked, so it is not recorded as a "
                "new control"
            ),
        ],
        "scope": "AWS production access, incl. access exercised by AI agents such as Kiro",
        "owner_name": "AWS",
        "owner": "reviewer",
        "status": ControlStatus.ACTIVE,
        "starts_on": None,  # The sources give no start date.
        "ends_on": None,
        "disputed": False,
        "dispute_note": "",
        "basis": Basis.REPORTED,
        "sources": ["aiaaic_kiro", "giganectar_kiro"],
        "incidents": [kiro_2025.EXTERNAL_ID],
    },
    {
        "name": "90-day code safety reset for Tier-1 systems",
        "description": [
            cited(
                "A 90-day 'code safety reset' across about 335 Tier-1 systems, announced on 10 or 11 March 2026 "
                "after the Amazon.com incidents",
                "bi_retail",
            ),
            ours(
                "The sources give no start or end date: starts_on is the announcement date and ends_on 90 days "
                "later, both approximate"
            ),
        ],
        "scope": "About 335 Tier-1 systems (Amazon.com retail)",
        "owner_name": "Amazon (the sources name no owning team)",
        "owner": "dana",
        "status": ControlStatus.EXPIRED,
        "starts_on": date(2026, 3, 10),
        "ends_on": date(2026, 6, 8),
        "disputed": False,
        "dispute_note": "",
        "basis": Basis.REPORTED,
        "sources": ["bi_retail"],
        "incidents": [retail_2026_03.MARCH_2_EXTERNAL_ID, retail_2026_03.MARCH_5_EXTERNAL_ID],
    },
    {
        "name": "Two-person review with the change-documentation tool for Tier-1 changes",
        "description": [
            cited(
                "Two-person review and the change-documentation tool, reported among the measures after the "
                "March 2026 Amazon.com incidents",
                "bi_retail",
            ),
            cited(
                "The March 5 internal review found that a single authorized operator could execute a "
                "high-blast-radius config change",
                "bi_retail",
            ),
        ],
        "scope": "Changes to Amazon.com Tier-1 systems",
        "owner_name": "Amazon (the sources name no owning team)",
        "owner": "omar",
        "status": ControlStatus.ACTIVE,
        "starts_on": None,
        "ends_on": None,
        "disputed": False,
        "dispute_note": "",
        "basis": Basis.REPORTED,
        "sources": ["bi_retail"],
        "incidents": [retail_2026_03.MARCH_5_EXTERNAL_ID],
    },
    {
        "name": "Senior sign-off for AI-assisted changes by junior and mid-level engineers",
        "description": [
            cited(
                "AI-assisted changes by junior and mid-level engineers need a senior engineer's sign-off",
                "dailyscout_retail",
            ),
            cited(
                'Amazon calls reports of "new approval requirements for engineers working with AI tools" "false"',
                "amazon_retail_correction",
            ),
            ours("So the control is recorded as disputed, and its status as proposed, not in force"),
        ],
        "scope": "AI-assisted changes by junior and mid-level engineers (Amazon.com retail)",
        "owner_name": "Amazon (as reported by Business Insider; denied by Amazon)",
        "owner": "dana",
        # Reported by one side and denied by the other: not shown as a rule in force.
        "status": ControlStatus.PROPOSED,
        "starts_on": None,
        "ends_on": None,
        "disputed": True,
        "dispute_note": (
            "Amazon, 'Correcting the Financial Times report about recent Amazon.com service incidents and AI' "
            '(aboutamazon.com, 2026-03-11): reports of "new approval requirements for engineers working with '
            'AI tools" are "false".'
        ),
        "basis": Basis.REPORTED,
        "sources": ["dailyscout_retail", "amazon_retail_correction"],
        "incidents": [retail_2026_03.MARCH_2_EXTERNAL_ID, retail_2026_03.MARCH_5_EXTERNAL_ID],
    },
    {
        "name": "DynamoDB DNS Planner and DNS Enactor automation disabled worldwide",
        "description": [
            cited(
                'AWS: "We have already disabled the DynamoDB DNS Planner and the DNS Enactor automation '
                'worldwide." The race condition will be fixed and protections against applying incorrect DNS '
                "plans added before it is re-enabled",
                "aws_101925",
            ),
            ours("The sources give no date for the switch-off"),
        ],
        "scope": "DynamoDB's DNS management automation, all AWS regions",
        "owner_name": "AWS (DynamoDB)",
        "owner": "omar",
        "status": ControlStatus.ACTIVE,
        "starts_on": None,
        "ends_on": None,
        "disputed": False,
        "dispute_note": "",
        "basis": Basis.REPORTED,
        "sources": ["aws_101925"],
        "incidents": [us_east_1_2025.EXTERNAL_ID],
    },
    {
        "name": "Replit development/production database separation",
        "description": [
            cited(
                "Replit apps get separate development and production databases, shipped in beta on 2025-07-21; "
                "before it, apps used 'a single database for development and live customer data'",
                "replit_release",
            ),
        ],
        "scope": "Databases of apps built on Replit (beta from 2025-07-21)",
        "owner_name": "Replit",
        "owner": "reviewer",
        "status": ControlStatus.ACTIVE,
        "starts_on": date(2025, 7, 21),
        "ends_on": None,
        "disputed": False,
        "dispute_note": "",
        "basis": Basis.REPORTED,
        "sources": ["replit_release"],
        "incidents": [replit_2025.EXTERNAL_ID],
    },
]

# What an earlier seed wrote and the knowledge base has withdrawn, deleted from a database seeded
# before: the Downdetector counts of 6.5M and 16M cited a source row no reference gives, and
# Masad's response of 2025-07-20 was cited to Replit's release of the next day (DOMAIN names no
# source for it).
WITHDRAWN = [
    (ImpactFigure, {"incident__external_id": us_east_1_2025.EXTERNAL_ID, "source__url": "https://downdetector.com/"}),
    (
        TimelineEvent,
        {
            "incident__external_id": replit_2025.EXTERNAL_ID,
            "moment": "ceo-responds",
            "source__url": "https://replit.com/",
        },
    ),
]
WITHDRAWN_SOURCE_URLS = ["https://downdetector.com/"]

# In date order, so the generated keys (INC-2025-0001, ...) follow the calendar
# on a fresh database.
INCIDENTS = [
    replit_2025.INCIDENT,
    us_east_1_2025.INCIDENT,
    kiro_2025.INCIDENT,
    retail_2026_03.MARCH_2,
    retail_2026_03.MARCH_5,
]
