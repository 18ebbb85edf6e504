"""Write demo/leads/demo_leads.jsonl: ~60 inbound events (v1 contract) against the demo CRM in demo/crm/.

Each event exercises one situation the pipeline must handle; the situation is named in
`extra.demo_scenario` so a walkthrough can say what should happen to it. People, companies and messages are
written out below; a seeded RNG only adds the noise (timing, IPs, browsers, campaigns), so the output is the
same on every run:

    python demo/generate_demo_leads.py            # rewrites demo/leads/demo_leads.jsonl
    python demo/generate_demo_leads.py --check    # exit 1 if the committed file is stale

The file is clean on purpose (every line parses); malformed deliveries belong in the ingest tests.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20251124
OUTPUT = Path(__file__).resolve().parent / "leads" / "demo_leads.jsonl"
FIRST_EVENT_AT = datetime(2025, 11, 24, 7, 5, tzinfo=UTC)

USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
)
# RFC 5737 documentation ranges: realistic-looking, never anyone's real address.
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")
CAMPAIGNS = (
    {"source": "google", "medium": "cpc", "campaign": "brand_search", "term": "brightloop pricing"},
    {"source": "linkedin", "medium": "paid_social", "campaign": "q4_revops_webinar", "content": "carousel_a"},
    {"source": "newsletter", "medium": "email", "campaign": "nov_product_update", "content": "hero_cta"},
    {"source": "g2", "medium": "referral", "campaign": "category_leader"},
    {"source": "bing", "medium": "cpc", "campaign": "lead_routing_generic", "term": "lead routing software"},
)
LANDING_PAGES = {
    "web_form": "https://www.brightloop.io/contact",
    "demo_request": "https://www.brightloop.io/demo",
    "pricing_inquiry": "https://www.brightloop.io/pricing",
    "webinar_registration": "https://www.brightloop.io/webinars/routing-at-scale",
    "chat": "https://www.brightloop.io/product/routing",
}
# UTC offsets the submitter's browser reports, by country as they wrote it; RFC 3339 allows any offset.
OFFSETS = {"DE": 1, "Deutschland": 1, "de": 1, "France": 1, "FR": 1, "NL": 1, "Ireland": 0, "JP": 9, "AU": 11}

NORTHSTAR = {
    "id": "PRT-007",
    "name": "Northstar Consulting",
    "referrer_email": "grace.holloway@northstarconsulting.com",
}

# One dict per event, in arrival order. Keys are v1 contract fields; `scenario` goes to extra.demo_scenario.
SCENARIOS: list[dict[str, Any]] = [
    # Existing contacts at customer accounts: matched to the contact, routed to the account owner.
    {
        "scenario": "existing_customer_contact",
        "source": "demo_request",
        "email": "dana.whitfield@acmelogistics.com",
        "first_name": "Dana",
        "last_name": "Whitfield",
        "company": "Acme Logistics",
        "job_title": "VP Operations",
        "country": "USA",
        "phone": "(312) 555-0143",
        "employees": "501-1000",
        "message": "We'd like to see the new territory rules before our renewal.",
    },
    {
        "scenario": "existing_customer_contact",
        "source": "pricing_inquiry",
        "email": "richard@piedpiper.com",
        "full_name": "Richard Hendricks",
        "company": "Pied Piper",
        "country": "United States",
        "employees": "51-200",
        "message": "Pricing for 20 more seats?",
    },
    {
        "scenario": "existing_customer_contact_inactive_owner",
        "source": "email_reply",
        "email": "klaus.berger@nordbank.de",
        "first_name": "Klaus",
        "last_name": "Berger",
        "company": "Nordbank AG",
        "country": "Deutschland",
        "phone": "069 1234 5600",
        "message": "Frau Kowalski is no longer reachable - who is our contact now?",
    },
    {
        "scenario": "existing_customer_contact",
        "source": "chat",
        "email": "haruto.sato@sakura-robotics.jp",
        "full_name": "Haruto Sato",
        "company": "Sakura Robotics",
        "country": "JP",
        "message": "Can we add our Osaka plant to the contract?",
    },
    {
        "scenario": "existing_customer_contact",
        "source": "webinar_registration",
        "email": "harriet.cole@brightwater-energy.co.uk",
        "first_name": "Harriet",
        "last_name": "Cole",
        "company": "Brightwater Energy",
        "country": "United Kingdom",
        "job_title": "Operations Director",
    },
    {
        "scenario": "existing_customer_contact",
        "source": "web_form",
        "email": "siobhan.murphy@helixbio.ie",
        "first_name": "Siobhan",
        "last_name": "Murphy",
        "company": "Helix Biotech",
        "country": "Ireland",
        "phone": "+353 1 555 0199",
        "message": "Question about data residency in the EU.",
    },
    # New people at customer accounts, matched by the account's primary domain.
    {
        "scenario": "new_person_customer_domain",
        "source": "demo_request",
        "email": "tom.nguyen@globexretail.com",
        "first_name": "Tom",
        "last_name": "Nguyen",
        "company": "Globex Retail",
        "job_title": "Director, Sales Ops",
        "country": "US",
        "phone": "212.555.0188",
        "employees": "1000+",
        "message": "Our EMEA team wants what HQ has. Can we talk?",
    },
    {
        "scenario": "new_person_customer_domain",
        "source": "web_form",
        "email": "samir.haddad@initech.io",
        "first_name": "Samir",
        "last_name": "Haddad",
        "company": "Initech",
        "country": "usa",
        "employees": "101-250",
        "job_title": "RevOps Manager",
    },
    {
        "scenario": "new_person_customer_domain",
        "source": "webinar_registration",
        "email": "niamh.walsh@helixbio.ie",
        "first_name": "Niamh",
        "last_name": "Walsh",
        "company": "Helix Biotech",
        "country": "Ireland",
        "job_title": "Commercial Analyst",
    },
    {
        "scenario": "new_person_customer_domain",
        "source": "pricing_inquiry",
        "email": "daniel.tan@lioncitylogistics.sg",
        "full_name": "Daniel Tan",
        "company": "Lion City Logistics",
        "country": "Singapore",
        "phone": "6123 4599",
        "employees": "201-500",
    },
    {
        "scenario": "new_person_customer_domain",
        "source": "demo_request",
        "email": "marta.lopez@iberiadigital.es",
        "first_name": "Marta",
        "last_name": "López",
        "company": "Iberia Digital",
        "country": "España",
        "phone": "912 345 690",
        "employees": "11-50",
        "message": "Necesitamos enrutar leads en español y portugués.",
    },
    # New people at customer accounts, matched only through an alias domain.
    {
        "scenario": "new_person_customer_alias_domain",
        "source": "web_form",
        "email": "kim.osei@acmelog.io",
        "first_name": "Kim",
        "last_name": "Osei",
        "company": "AcmeLog",
        "country": "US",
        "job_title": "Logistics Analyst",
        "employees": "about 800",
    },
    {
        "scenario": "new_person_customer_alias_domain",
        "source": "demo_request",
        "email": "petra.schmidt@nordbank-ag.de",
        "first_name": "Petra",
        "last_name": "Schmidt",
        "company": "Nordbank",
        "country": "de",
        "phone": "+49 (0)69 1234-5690",
        "employees": "5000+",
        "job_title": "Leiterin Vertriebssteuerung",
    },
    {
        "scenario": "new_person_customer_alias_domain",
        "source": "chat",
        "email": "erlich@piedpiper.net",
        "full_name": "Erlich Bachman",
        "company": "Pied Piper",
        "country": "United States of America",
        "message": "I am basically a founder. Give me the enterprise tier.",
    },
    {
        "scenario": "new_person_customer_alias_domain",
        "source": "pricing_inquiry",
        "email": "astrid.farnsworth@massive-dynamic.com",
        "first_name": "Astrid",
        "last_name": "Farnsworth",
        "company": "Massive Dynamic",
        "country": "U.S.",
        "employees": "10,000+",
    },
    {
        "scenario": "new_person_customer_alias_domain",
        "source": "web_form",
        "email": "ines.bernard@lumiere.fr",
        "first_name": "Inès",
        "last_name": "Bernard",
        "company": "Lumière",
        "country": "France",
        "phone": "01 42 68 53 44",
        "employees": "150",
    },
    # Prospect accounts that already have an owner.
    {
        "scenario": "prospect_with_owner",
        "source": "demo_request",
        "email": "jian.yang@hoolipay.com",
        "first_name": "Jian",
        "last_name": "Yang",
        "company": "Hooli Payments",
        "country": "US",
        "job_title": "Head of Payments Ops",
        "employees": "501-1000",
    },
    {
        "scenario": "prospect_with_owner",
        "source": "pricing_inquiry",
        "email": "charlotte.reed@finvia.com",
        "first_name": "Charlotte",
        "last_name": "Reed",
        "company": "Finvia",
        "country": "UK",
        "phone": "020 7946 0400",
        "employees": "1,001-5,000",
        "job_title": "COO",
    },
    {
        "scenario": "prospect_with_owner",
        "source": "web_form",
        "email": "t.becker@klarheit.de",
        "first_name": "Thomas",
        "last_name": "Becker",
        "company": "Klarheit Versicherung AG",
        "country": "Germany",
        "phone": "0221 4711 0",
        "employees": "500-1000",
        "message": "Bitte um Rückruf.",
    },
    {
        "scenario": "prospect_with_owner",
        "source": "demo_request",
        "email": "mia.wilson@harbourbank.com.au",
        "first_name": "Mia",
        "last_name": "Wilson",
        "company": "Harbour Bank",
        "country": "AU",
        "phone": "(02) 9876 5400",
        "employees": "5000+",
    },
    {
        "scenario": "prospect_with_inactive_owner",
        "source": "web_form",
        "email": "lindsay.bluth@bluthproperty.com",
        "first_name": "Lindsay",
        "last_name": "Bluth",
        "company": "Bluth Property Group",
        "country": "US",
        "employees": "201-500",
    },
    # Prospect accounts without an owner: routed by territory and segment.
    {
        "scenario": "prospect_without_owner",
        "source": "demo_request",
        "email": "kel.varnsen@vandelay.com",
        "first_name": "Kel",
        "last_name": "Varnsen",
        "company": "Vandelay Industries",
        "country": "US",
        "employees": "11-50",
        "job_title": "Import/Export Manager",
    },
    {
        "scenario": "prospect_without_owner",
        "source": "web_form",
        "email": "sarah.kim@cyberdyne.ai",
        "first_name": "Sarah",
        "last_name": "Kim",
        "company": "Cyberdyne Robotics",
        "country": "United States",
        "employees": "about 300",
    },
    {
        "scenario": "prospect_without_owner_emea_fintech_enterprise",
        "source": "demo_request",
        "email": "reto.meier@alpentreuhand.ch",
        "first_name": "Reto",
        "last_name": "Meier",
        "company": "Alpen Treuhand AG",
        "country": "Schweiz",
        "phone": "044 555 12 34",
        "employees": "1000+",
        "job_title": "Head of Digital Banking",
    },
    {
        "scenario": "prospect_without_owner",
        "source": "pricing_inquiry",
        "email": "j.devries@tulpenlogistiek.nl",
        "first_name": "Jan",
        "last_name": "de Vries",
        "company": "Tulpen Logistiek",
        "country": "NL",
        "phone": "020 555 0199",
        "employees": "51-200",
    },
    {
        "scenario": "prospect_without_owner",
        "source": "webinar_registration",
        "email": "h.osborn@oscorp.com",
        "first_name": "Harry",
        "last_name": "Osborn",
        "company": "Oscorp",
        "country": "US",
        "employees": "1k+",
    },
    {
        "scenario": "existing_contact_prospect_without_owner",
        "source": "web_form",
        "email": "aroha@kiwisoftware.co.nz",
        "first_name": "Aroha",
        "last_name": "Ngata",
        "company": "Kiwi Software",
        "country": "New Zealand",
        "phone": "09 555 0142",
        "employees": "11-50",
        "message": "We spoke last year; ready to look again now that we have a sales team.",
    },
    # New companies not in the CRM.
    {
        "scenario": "new_company",
        "source": "demo_request",
        "email": "olivia.grant@brightpathhealth.com",
        "first_name": "Olivia",
        "last_name": "Grant",
        "company": "BrightPath Health, Inc.",
        "country": "USA",
        "phone": "415-555-0123",
        "employees": "51-200",
        "website": "https://www.brightpathhealth.com/",
        "job_title": "VP Revenue Operations",
    },
    {
        "scenario": "new_company",
        "source": "web_form",
        "email": "m.huber@alpinsoft.de",
        "first_name": "Markus",
        "last_name": "Huber",
        "company": "AlpinSoft GmbH",
        "country": "Deutschland",
        "phone": "089 123456 78",
        "employees": "ca. 40",
        "website": "alpinsoft.de",
    },
    {
        "scenario": "new_company",
        "source": "pricing_inquiry",
        "email": "fiona.campbell@thistlepay.co.uk",
        "first_name": "Fiona",
        "last_name": "Campbell",
        "company": "ThistlePay Ltd",
        "country": "United Kingdom",
        "phone": "0131 496 0123",
        "employees": "1001-5000",
        "website": "https://thistlepay.co.uk",
        "job_title": "Chief Operating Officer",
        "message": "Fintech, 1,200 staff, evaluating routing vendors.",
    },
    {
        "scenario": "new_company",
        "source": "demo_request",
        "email": "pierre.lefebvre@octaveaudio.fr",
        "first_name": "Pierre",
        "last_name": "Lefebvre",
        "company": "Octave Audio SAS",
        "country": "FR",
        "phone": "06 12 34 56 78",
        "employees": "11-50",
    },
    {
        "scenario": "new_company",
        "source": "web_form",
        "email": "akira.mori@fujitaka-systems.co.jp",
        "first_name": "Akira",
        "last_name": "Mori",
        "company": "Fujitaka Systems",
        "country": "Japan",
        "phone": "03-5555-0199",
        "employees": "about 300",
    },
    {
        "scenario": "new_company",
        "source": "demo_request",
        "email": "jack.murray@outbackfreight.com.au",
        "first_name": "Jack",
        "last_name": "Murray",
        "company": "Outback Freight Pty Ltd",
        "country": "Australia",
        "phone": "0412 345 678",
        "employees": "201-500",
        "website": "outbackfreight.com.au",
    },
    {
        "scenario": "new_company",
        "source": "webinar_registration",
        "email": "sanne.visser@duinhuis.nl",
        "first_name": "Sanne",
        "last_name": "Visser",
        "company": "Duinhuis B.V.",
        "country": "Netherlands",
        "employees": "1-10",
    },
    {
        "scenario": "new_company",
        "source": "pricing_inquiry",
        "email": "ethan.brooks@ridgelineanalytics.io",
        "full_name": "Ethan Brooks",
        "company": "Ridgeline Analytics",
        "country": "Canada",
        "phone": "604-555-0147",
        "employees": "5k+",
        "job_title": "Director of Sales Operations",
    },
    {
        "scenario": "new_company_no_territory",
        "source": "demo_request",
        "email": "chinedu.okafor@lagospay.ng",
        "first_name": "Chinedu",
        "last_name": "Okafor",
        "company": "LagosPay",
        "country": "Nigeria",
        "phone": "0803 123 4567",
        "employees": "51-200",
        "message": "Expanding to Ghana and Kenya next year.",
    },
    {
        "scenario": "prospect_without_owner_no_territory",
        "source": "web_form",
        "email": "valentina.rojas@andesmining.cl",
        "first_name": "Valentina",
        "last_name": "Rojas",
        "company": "Andes Mining",
        "country": "Chile",
        "phone": "+56 2 2555 0100",
        "employees": "1000+",
    },
    # Partner referrals.
    {
        "scenario": "partner_referral_new_company",
        "source": "partner_referral",
        "email": "rebecca.lin@summitdental.com",
        "first_name": "Rebecca",
        "last_name": "Lin",
        "company": "Summit Dental Group",
        "country": "US",
        "employees": "201-500",
        "partner": NORTHSTAR,
        "message": "Referred by Grace at Northstar; they run 40 clinics.",
    },
    {
        "scenario": "partner_referral_existing_prospect",
        "source": "partner_referral",
        "email": "frank.costanza@vandelay.com",
        "first_name": "Frank",
        "last_name": "Costanza",
        "company": "Vandelay Industries",
        "country": "US",
        "partner": NORTHSTAR,
    },
    {
        "scenario": "partner_referral_emea",
        "source": "partner_referral",
        "email": "ola.nordmann@fjordtech.no",
        "first_name": "Ola",
        "last_name": "Nordmann",
        "company": "FjordTech AS",
        "country": "Norway",
        "phone": "22 55 01 23",
        "employees": "51-200",
        "partner": {
            "id": "PRT-012",
            "name": "Nordic Revenue Partners",
            "referrer_email": "lars@nordicrev.se",
        },
    },
    # Spam: each carries one signal the ingest step must flag.
    {
        "scenario": "spam_honeypot",
        "source": "web_form",
        "email": "bestdeals@cheapsoftwarekeys.biz",
        "full_name": "Best Deals",
        "company": "Best Deals",
        "honeypot": "http://cheapsoftwarekeys.biz",
        "message": "Great site!",
    },
    {
        "scenario": "spam_disposable_email",
        "source": "demo_request",
        "email": "john.doe@mailinator.com",
        "first_name": "John",
        "last_name": "Doe",
        "company": "Doe Corp",
        "country": "US",
    },
    {
        "scenario": "spam_junk_email",
        "source": "web_form",
        "email": "test@test.com",
        "first_name": "test",
        "last_name": "test",
        "company": "test",
        "message": "test",
    },
    {
        "scenario": "spam_link_stuffed",
        "source": "web_form",
        "email": "seo.expert.team@outlook.com",
        "full_name": "SEO Expert",
        "company": "Rank Boosters",
        "message": "Boost your ranking! https://rank-boost.example/a https://rank-boost.example/b "
        "https://rank-boost.example/c https://rank-boost.example/d https://rank-boost.example/e",
    },
    {
        "scenario": "spam_markup_in_fields",
        "source": "chat",
        "email": "winner2025@protonmail.com",
        "full_name": "<a href='http://win.example'>WINNER</a>",
        "message": "<script>alert(1)</script>",
    },
    # Free-mail addresses: the company field (if any) is the only lead to an account.
    {
        "scenario": "free_mail_with_company",
        "source": "pricing_inquiry",
        "email": "marco.bianchi81@gmail.com",
        "first_name": "Marco",
        "last_name": "Bianchi",
        "company": "Milano Moda",
        "country": "Italia",
        "phone": "02 5555 0123",
        "employees": "501-1000",
        "job_title": "Responsabile IT",
    },
    {
        "scenario": "free_mail_with_company",
        "source": "demo_request",
        "email": "priya.k.raman@gmail.com",
        "first_name": "Priya",
        "last_name": "Raman",
        "company": "Mumbai Metrics Pvt. Ltd.",
        "country": "India",
        "phone": "098765 43210",
        "employees": "1000+",
    },
    {
        "scenario": "free_mail_with_company",
        "source": "web_form",
        "email": "dave.f@yahoo.com",
        "first_name": "Dave",
        "last_name": "Fletcher",
        "company": "Fletcher Plumbing",
        "country": "US",
        "phone": "555 0199",
        "employees": "1-10",
    },
    {
        "scenario": "free_mail_without_company",
        "source": "chat",
        "email": "curious.cat.2024@gmail.com",
        "full_name": "Alex",
        "message": "Do you integrate with spreadsheets?",
    },
    {
        "scenario": "free_mail_without_company",
        "source": "webinar_registration",
        "email": "lena.m@gmx.de",
        "first_name": "Lena",
        "last_name": "Maier",
        "country": "de",
    },
    # One person, three submissions: dots, case and a plus tag differ; they are one lead.
    {
        "scenario": "repeat_submission",
        "source": "web_form",
        "email": "Sarah.Connor@Gmail.com",
        "first_name": "Sarah",
        "last_name": "Connor",
        "company": "Cyberdyne Robotics",
        "country": "US",
        "employees": "about 300",
        "message": "Interested in a trial.",
    },
    {
        "scenario": "repeat_submission",
        "source": "demo_request",
        "email": "sarahconnor+demo@gmail.com",
        "first_name": "sarah",
        "last_name": "connor",
        "company": "Cyberdyne",
        "country": "usa",
        "phone": "(310) 555-0142",
        "message": "Following up, can we book a demo?",
    },
    {
        "scenario": "repeat_submission",
        "source": "pricing_inquiry",
        "email": "SARAH.CONNOR@GMAIL.COM",
        "full_name": "Sarah Connor",
        "company": "Cyberdyne Robotics Inc",
        "country": "United States",
    },
    # An existing contact again, typed in other case: still that contact.
    {
        "scenario": "existing_customer_contact_other_case",
        "source": "webinar_registration",
        "email": "Laura.Mendez@GlobexRetail.com",
        "first_name": "laura",
        "last_name": "MENDEZ",
        "company": "GLOBEX RETAIL",
        "country": "US",
    },
    {
        "scenario": "existing_customer_contact_plus_address",
        "source": "pricing_inquiry",
        "email": "jim.halpert+pricing@dundermifflin.com",
        "first_name": "Jim",
        "last_name": "Halpert",
        "company": "Dunder Mifflin",
        "country": "US",
        "phone": "570 555 0131",
        "employees": "201-500",
    },
    # More everyday inbound to round out the mix.
    {
        "scenario": "new_company",
        "source": "web_form",
        "email": "noah.friedman@cedarcrestcpa.com",
        "first_name": "Noah",
        "last_name": "Friedman",
        "company": "Cedar Crest CPA LLP",
        "country": "US",
        "phone": "+1 303 555 0166",
        "employees": "11-50",
        "job_title": "Managing Partner",
    },
    {
        "scenario": "new_company",
        "source": "demo_request",
        "email": "agnieszka.wojcik@vistulasoft.pl",
        "first_name": "Agnieszka",
        "last_name": "Wójcik",
        "company": "VistulaSoft Sp. z o.o.",
        "country": "Poland",
        "phone": "22 555 01 77",
        "employees": "201-500",
    },
    {
        "scenario": "new_company",
        "source": "chat",
        "email": "li.wei@pearlriver-ecom.cn",
        "full_name": "Li Wei",
        "company": "Pearl River E-Commerce",
        "country": "China",
        "employees": "1000+",
        "message": "Do you support WeChat as a lead source?",
    },
    {
        "scenario": "existing_contact_prospect_with_open_opportunity",
        "source": "email_reply",
        "email": "oliver.bennett@finvia.co.uk",
        "first_name": "Oliver",
        "last_name": "Bennett",
        "company": "Finvia",
        "country": "GB",
        "message": "Re: proposal - legal has comments on the DPA.",
    },
    {
        "scenario": "new_person_prospect_with_open_opportunity",
        "source": "webinar_registration",
        "email": "ryan.cho@tyrellbio.com",
        "first_name": "Ryan",
        "last_name": "Cho",
        "company": "Tyrell Biometrics",
        "country": "US",
        "job_title": "Data Analyst",
    },
    {
        "scenario": "new_company",
        "source": "pricing_inquiry",
        "email": "sofia.costa@lisboaworks.pt",
        "first_name": "Sofia",
        "last_name": "Costa",
        "company": "Lisboa Works Lda",
        "country": "Portugal",
        "phone": "21 555 0123",
        "employees": "51 - 200",
    },
    {
        "scenario": "new_company",
        "source": "web_form",
        "email": "ahmed.alsayed@gulfsteel.ae",
        "first_name": "Ahmed",
        "last_name": "Al Sayed",
        "company": "Gulf Steel Trading LLC",
        "country": "UAE",
        "phone": "04 555 0123",
        "employees": "1000-5000",
    },
]


def _received_at(moment: datetime, country: str | None) -> str:
    offset = timezone(timedelta(hours=OFFSETS.get(country or "", 0)))
    local = moment.astimezone(offset)
    text = local.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def build_events(seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    moment = FIRST_EVENT_AT
    events = []
    for scenario in SCENARIOS:
        fields = dict(scenario)
        label = fields.pop("scenario")
        source = fields["source"]
        moment += timedelta(minutes=rng.randint(3, 55), seconds=rng.randint(0, 59))
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "source": source,
            "received_at": _received_at(moment, fields.get("country")),
        }
        event.update(fields)
        if source in LANDING_PAGES:
            event["landing_page"] = LANDING_PAGES[source]
        if source != "email_reply" and rng.random() < 0.7:
            event["utm"] = dict(rng.choice(CAMPAIGNS))
        if source in {"web_form", "demo_request", "pricing_inquiry", "webinar_registration"}:
            event["consent"] = {"marketing": rng.random() < 0.6}
        if source != "email_reply":
            event["ip"] = f"{rng.choice(IP_PREFIXES)}{rng.randint(1, 254)}"
            event["user_agent"] = rng.choice(USER_AGENTS)
        event["extra"] = {"demo_scenario": label}
        events.append(event)
    return events


def render(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is not up to date")
    args = parser.parse_args(argv)
    text = render(build_events())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale; run python demo/generate_demo_leads.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    temporary = OUTPUT.with_suffix(".jsonl.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(OUTPUT)
    print(f"wrote {len(text.splitlines())} events to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
