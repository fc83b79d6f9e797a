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

COUNTRIES = {"United States": "US", "Canada": "CA", "United Kingdom": "GB",
             "Germany": "DE", "Australia": "AU"}
CURRENCIES = {"US Dollar": "USD", "Canadian Dollar": "CAD", "Pound Sterling": "GBP",
              "Euro": "EUR", "Australian Dollar": "AUD"}


def payload(row):
    """The Referral for one Dynamics export row (the same fields the shipped mapping fills)."""
    close = datetime.strptime(row["Est. close date"], "%m/%d/%Y")
    return {
        "name": row["Topic"],
        "externalReferenceId": row["(Do Not Modify) Opportunity"],
        "type": "Independent",
        "customerProfile": {
            "name": row["Potential Customer"],
            "address": {
                "addressLine1": row["Address 1: Street 1 (Potential Customer) (Account)"],
                "city": row["Address 1: City (Potential Customer) (Account)"],
                "state": row["Address 1: State/Province (Potential Customer) (Account)"],
                "postalCode": row["Address 1: ZIP/Postal Code (Potential Customer) (Account)"],
                "country": COUNTRIES[row["Address 1: Country/Region (Potential Customer) (Account)"]],
            },
            "team": [{
                "firstName": row["First Name (Contact) (Contact)"],
                "lastName": row["Last Name (Contact) (Contact)"],
                "email": row["Email (Contact) (Contact)"],
                "phoneNumber": row["Business Phone (Contact) (Contact)"],
            }],
        },
        "consent": {"consentToToShareInfoWithOthers": True, "consentToContact": True},
        "details": {
            "notes": row["Description"],
            "dealValue": float(row["Est. revenue"]),
            "currency": CURRENCIES[row["Currency"]],
            "closingDateTime": close.strftime("%Y-%m-%dT00:00:00Z"),
        },
    }


def post(session, url, body):
    """POST until the API answers something other than 429 or 5xx; returns (status, tries)."""
    tries = 0
    while True:
        tries += 1
        response = session.post(url, json=body, timeout=30)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
        elif response.status_code >= 500:
            time.sleep(1)
        else:
            return response.status_code, tries


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
            if row["Status"] != "Open":
                continue
            status, tries = post(session, url, payload(row))
            requests_sent += tries
            if 200 <= status < 300:
                created += 1
            else:
                failed += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"created": created, "failed": failed, "requests": requests_sent,
                      "seconds": round(elapsed, 3), "rate": round(created / elapsed, 3)}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
