#!/usr/bin/env python3
"""The uploader a user would write without referral-sync: the naive peer of the benchmark.

One `requests.Session`, one POST per CSV row, in order, with the field mapping written out by
hand. It is not a straw man: it keeps the connection alive, honours `Retry-After` on 429 and
retries a 5xx once a second, so that its rate is the best a sequential script gets against
the same sandbox. It keeps no ledger: a re-run creates every referral again.

Usage: naive_upload.py --api-url URL --rows N EXPORT.csv  (prints one JSON summary line)
"""

import argparse
import csv
import json
import sys
import time
from datetime import datetime

import requests

ACCOUNT = " (Potential Customer) (Account)"
COUNTRIES = {"United States": "US", "USA": "US", "Canada": "CA", "United Kingdom": "GB",
             "Deutschland": "DE", "Germany": "DE", "Australia": "AU"}
CURRENCIES = {"US Dollar": "USD", "Canadian Dollar": "CAD", "Pound Sterling": "GBP",
              "Euro": "EUR", "Australian Dollar": "AUD"}
STATUS = {"Open": ("New", "Pending"), "Won": ("Closed", "Won"), "Lost": ("Closed", "Lost")}
ASSISTANCE = {"Proof of concept or demo": "ProofOfConceptOrDemo",
              "Quotes or licensing": "QuotesOrLicensing",
              "Customer technical architecture": "CustomerTechnicalArchitecture"}


def payload(row):
    """The Referral for one export row: the fields mappings/dynamics365-export.toml fills."""
    status, substatus = STATUS[row["Status"]]
    help_wanted = row["How can Microsoft help?"]
    team = []
    for n in (1, 2):
        if row[f"Contact {n} Email"]:
            team.append({"firstName": row[f"Contact {n} First Name"],
                         "lastName": row[f"Contact {n} Last Name"],
                         "email": row[f"Contact {n} Email"]})
    body = {
        "externalReferenceId": row["(Do Not Modify) Opportunity"],
        "name": row["Topic"],
        "type": "Shared" if help_wanted else "Independent",
        "qualification": "SalesQualified",
        "status": status,
        "substatus": substatus,
        "customerProfile": {
            "name": row["Potential Customer"],
            "address": {"city": row["Address 1: City" + ACCOUNT],
                        "country": COUNTRIES[row["Address 1: Country/Region" + ACCOUNT]]},
            "team": team,
        },
        "consent": {"consentToToShareInfoWithOthers": False, "consentToContact": True,
                    "consentToShareReferralWithMicrosoftSellers": bool(help_wanted)},
        "details": {
            "notes": row["Description"],
            "dealValue": float(row["Est. revenue"]),
            "currency": CURRENCIES[row["Currency"]],
            "closingDateTime": row["Est. close date"] + "T00:00:00Z",
            "requirements": {"products": [{"id": p.strip()} for p in
                                          row["Microsoft Products"].split(";") if p.strip()]},
        },
    }
    if help_wanted:
        body["target"] = [{"type": "SolutionProfile", "id": row["Solution Id"]}]
    return body


def connected(row, shared, engagement_id):
    """Step two of a co-sell referral: Microsoft's copy, in the same engagement."""
    body = {k: v for k, v in shared.items() if k not in ("externalReferenceId", "target")}
    body["engagementId"] = engagement_id
    body["target"] = [{"type": "BusinessProfileLocation", "id": "msft"}]
    body["inviteContext"] = {
        "notes": f"{row['Topic']}: {row['Description']}",
        "assistanceRequestCode": ASSISTANCE[row["How can Microsoft help?"]],
    }
    return body


def post(session, url, body):
    """POST until the API answers something other than 429 or 5xx; (response, tries)."""
    tries = 0
    while True:
        tries += 1
        response = session.post(url, json=body, timeout=30)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
        elif response.status_code >= 500:
            time.sleep(1)
        else:
            return response, tries


def upload(session, url, row):
    """Send one row (two requests for a co-sell row); (created, requests)."""
    body = payload(row)
    response, tries = post(session, url, body)
    if not response.ok:
        return 0, tries
    if row["How can Microsoft help?"]:
        engagement = response.json()["engagementId"]
        second, more = post(session, url, connected(row, body, engagement))
        return (2 if second.ok else 1), tries + more
    return 1, tries


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("export")
    args = parser.parse_args()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer naive-peer-token"
    url = args.api_url.rstrip("/") + "/v1.0/engagements/referrals"
    created = failed = requests_sent = 0
    start = time.monotonic()
    with open(args.export, newline="", encoding="utf-8-sig") as file:
        for i, row in enumerate(csv.DictReader(file)):
            if i >= args.rows:
                break
            if row["Sync with Partner Center"] != "Yes":
                continue
            made, tries = upload(session, url, row)
            requests_sent += tries
            created += made
            failed += 0 if made else 1
    elapsed = time.monotonic() - start
    print(json.dumps({"created": created, "failed": failed, "requests": requests_sent,
                      "seconds": round(elapsed, 3),
                      "requests_per_second": round(requests_sent / elapsed, 3)}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
