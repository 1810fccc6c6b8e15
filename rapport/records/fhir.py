"""The whole record as a FHIR R4 Bundle: the Patient and every provider's resources.

The Patient carries an identifier (an opaque id under Rapport's naming system), and, for the
client themselves and their clinician, the name, contact details, birth date, postal address and
emergency contact Rapport keeps on the client's profile. See docs/fhir.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from rapport.accounts.models import User
from rapport.care.access import profile_of
from rapport.core.record import CANONICAL_BASE, fhir_id, fhir_reference
from rapport.records.timeline import PROVIDERS

CLIENT_NAMING_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/client"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"


def patient(client: User, *, named: bool) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": fhir_id("patient", client.pk),
        "identifier": [{"system": CLIENT_NAMING_SYSTEM, "value": fhir_id("patient", client.pk)}],
    }
    if not named:
        return resource
    profile = profile_of(client)
    if client.full_name:
        resource["name"] = [{"text": client.full_name}]
    telecom = [{"system": "email", "value": client.email}]
    if profile.phone:
        telecom.append({"system": "phone", "value": profile.phone})
    resource["telecom"] = telecom
    if profile.date_of_birth is not None:
        resource["birthDate"] = profile.date_of_birth.isoformat()
    if profile.postal_address.strip():
        lines = [line.strip() for line in profile.postal_address.splitlines() if line.strip()]
        resource["address"] = [{"use": "home", "type": "postal", "text": "\n".join(lines)}]
    if profile.emergency_contact:
        resource["contact"] = [
            {
                "relationship": [
                    {"coding": [{"system": CONTACT_ROLE, "code": "C"}], "text": "Emergency contact"}
                ],
                "name": {"text": profile.emergency_contact},
            }
        ]
    return resource


def record_bundle(client: User, *, viewer: User, named: bool, now: datetime) -> dict[str, Any]:
    """A ``collection`` Bundle of the whole record; the caller has checked access."""
    resources = [patient(client, named=named)]
    for provider in PROVIDERS:
        resources.extend(provider.fhir_resources(client, viewer=viewer, export=True))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }


def patient_reference(client: User) -> str:
    return fhir_reference("patient", client.pk)
