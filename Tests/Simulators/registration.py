#!/usr/bin/env python3
"""Vehicle registration API simulators, one country per process (shared/partners/README.md,
"Vehicle registration"). Each checks its country's body and holder-id rule, issues plates in the
country's format, answers synchronously or asynchronously as the contract says, and can be asked
for the state of a submission.

  ES  DGT (gestoria)  JSON  sync   POST /v2/matriculaciones          GET /v2/matriculaciones/{id}    bearer
  PT  IMT             JSON  async  POST /api/registos                GET /api/registos/{id}          X-Api-Key
  FR  ANTS / SIV      XML   sync   POST /siv/v1/immatriculations     GET /siv/v1/immatriculations/{id}  client certificate
  DE  KBA i-Kfz       JSON  async  POST /zulassung/v1/antraege       GET /zulassung/v1/antraege/{id} bearer
  IT  PRA             XML   sync   POST /pra/immatricolazioni        GET /pra/immatricolazioni/{id}  bearer
  generic             JSON  sync   POST any path: records the body, answers {"plate"} (for a country only a test defines)

A submission id already known gets 409; a state query for an unknown id gets 404; a body that
breaks the contract gets 400 (not JSON/XML) or 422 with the field at fault.

Test switches (never part of a partner's API):
  POST /_sim/faults {"fail_every": N, "status": 500|503, "delay": S, "drop_after_accept": bool,
                     "known": [ids], "reject": {"field", "reason"}, "refuse": "reason",
                     "bad_plate": bool, "decide_after": N, "echo_credentials": bool}
     echo_credentials: every submission is refused (422) with a reason that repeats the
     credentials it came with (bearer token or API key).
  GET  /_sim/requests  {"<submission id>": {"submits": n, "polls": n, "state": s}}
  GET  /_sim/bodies    {"<submission id>": "<last body received>"}
  GET  /_sim/state, PUT /_sim/state   submissions, counts and faults, saved and put back as a whole

  python3 registration.py --country CC --port P [--token T | --api-key K] --cert C --key K [--client-ca CA]
Stops on SIGTERM. Standard library only.
"""
import argparse, json, re, threading, time
import xml.etree.ElementTree as ET

import simhttp

CONTRACTS = {
    "ES": {"submit": "/v2/matriculaciones", "format": "json", "mode": "sync", "id": "expediente", "holder": "titular.nif",
           "required": ["expediente", "vehiculo.bastidor", "vehiculo.marca", "vehiculo.modelo", "titular.nif", "titular.nombre",
                        "titular.apellidos", "titular.domicilio.via", "titular.domicilio.codigoPostal",
                        "titular.domicilio.municipio", "concesionario"],
           "vin": "vehiculo.bastidor", "make": "vehiculo.marca"},
    "PT": {"submit": "/api/registos", "format": "json", "mode": "async", "id": "pedidoId", "holder": "proprietario.nif",
           "required": ["pedidoId", "quadro", "marca", "modelo", "proprietario.nif", "proprietario.nome",
                        "proprietario.morada.rua", "proprietario.morada.codigoPostal", "proprietario.morada.localidade"],
           "vin": "quadro", "make": "marca"},
    "FR": {"submit": "/siv/v1/immatriculations", "format": "xml", "mode": "sync", "root": "DemandeImmatriculation",
           "ns": "urn:fr:siv:1", "id": "Reference", "holder": "Titulaire.PieceIdentite",
           "required": ["Reference", "Vehicule.VIN", "Vehicule.Marque", "Vehicule.Modele", "Titulaire.Nom", "Titulaire.Prenom",
                        "Titulaire.PieceIdentite", "Titulaire.Adresse.Voie", "Titulaire.Adresse.CodePostal",
                        "Titulaire.Adresse.Commune"],
           "vin": "Vehicule.VIN", "make": "Vehicule.Marque"},
    "DE": {"submit": "/zulassung/v1/antraege", "format": "json", "mode": "async", "id": "antragsId", "holder": "halter.ausweisnummer",
           "required": ["antragsId", "fahrzeug.fin", "fahrzeug.hersteller", "fahrzeug.typ", "halter.vorname", "halter.nachname",
                        "halter.ausweisnummer", "halter.anschrift.strasse", "halter.anschrift.plz", "halter.anschrift.ort"],
           "vin": "fahrzeug.fin", "make": "fahrzeug.hersteller"},
    "IT": {"submit": "/pra/immatricolazioni", "format": "xml", "mode": "sync", "root": "RichiestaImmatricolazione", "ns": None,
           "id": "Riferimento", "holder": "Intestatario.CodiceFiscale",
           "required": ["Riferimento", "Veicolo.Telaio", "Veicolo.Marca", "Veicolo.Modello", "Intestatario.CodiceFiscale",
                        "Intestatario.Nome", "Intestatario.Cognome", "Intestatario.Indirizzo.Via", "Intestatario.Indirizzo.CAP",
                        "Intestatario.Indirizzo.Comune"],
           "vin": "Veicolo.Telaio", "make": "Veicolo.Marca"},
}

# --- holder id rules, written from the public algorithms (independently of the gateway's) ---

def es_dni_nie(v):
    v = v.upper().replace("-", "").replace(" ", "")
    if re.fullmatch(r"[XYZ][0-9]{7}[A-Z]", v):
        v = str("XYZ".index(v[0])) + v[1:]
    return bool(re.fullmatch(r"[0-9]{8}[A-Z]", v)) and "TRWAGMYFPDXBNJZSQVHLCKE"[int(v[:8]) % 23] == v[8]

def pt_nif(v):
    if not re.fullmatch(r"[0-9]{9}", v):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(v[:8], range(9, 1, -1))) % 11
    return (0 if check >= 10 else check) == int(v[8])

def de_id_card(v):
    v = v.upper()
    if not re.fullmatch(r"[0-9A-Z]{9}[0-9]", v):
        return False
    value = lambda c: int(c) if c.isdigit() else ord(c) - 55
    return sum(value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(v[:9])) % 10 == int(v[9])

CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                  [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
                   10, 22, 25, 24, 23]))

def it_codice_fiscale(v):
    v = v.upper()
    if not re.fullmatch(r"[A-Z0-9]{15}[A-Z]", v):
        return False
    total = 0
    for i, c in enumerate(v[:15]):
        total += CF_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
    return chr(65 + total % 26) == v[15]

HOLDER_CHECK = {"ES": es_dni_nie, "PT": pt_nif, "DE": de_id_card, "IT": it_codice_fiscale, "FR": lambda v: 3 <= len(v) <= 20}

# --- plates in each country's format ---

def letters(n, alphabet, width):
    out = ""
    for _ in range(width):
        out = alphabet[n % len(alphabet)] + out
        n //= len(alphabet)
    return out

def plate(country, n, body):
    if country == "ES":
        return f"{(1234 + n) % 10000:04d} {letters(700 + n, 'BCDFGHJKLMNPRSTVWXYZ', 3)}"
    if country == "PT":
        return f"{letters(30 + n, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 2)}-{(10 + n) % 100:02d}-{letters(n, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 2)}"
    if country == "FR":
        fr = "ABCDEFGHJKLMNPQRSTVWXYZ"
        return f"{letters(100 + n, fr, 2)}-{(123 + n) % 1000:03d}-{letters(n, fr, 2)}"
    if country == "DE":
        city = get(body, "halter.anschrift.ort") or "M"
        district = {"MÜNCHEN": "M", "MUNICH": "M", "BERLIN": "B", "HAMBURG": "HH"}.get(city.upper(), city[:1].upper())
        return f"{district}-{letters(n, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 2)} {1000 + n}"
    if country == "IT":
        it = "ABCDEFGHJKLMNPRSTVWXYZ"
        return f"{letters(200 + n, it, 2)} {(100 + n) % 1000:03d} {letters(n, it, 2)}"
    return f"GEN-{n:04d}"

# --- bodies ---

def get(body, path):
    node = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None

def parse_xml(raw, contract):
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("DTDs are refused")
    root = ET.fromstring(raw)
    ns = contract.get("ns")
    expected = f"{{{ns}}}{contract['root']}" if ns else contract["root"]
    if root.tag != expected:
        raise ValueError(f"root element must be {expected}, not {root.tag}")

    def to_dict(el):
        children = list(el)
        if not children:
            return (el.text or "").strip()
        return {c.tag.split("}")[-1]: to_dict(c) for c in children}
    return to_dict(root)

def xml_answer(root, fields, ns=None):
    attr = f' xmlns="{ns}"' if ns else ""
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items() if v is not None)
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}{attr}>{inner}</{root}>'.encode()


class Body:
    """One administrative body and its submissions."""

    STATE = ("submissions", "requests", "bodies", "faults", "calls", "issued")

    def __init__(self, country, token, api_key):
        self.country = country
        self.contract = CONTRACTS.get(country)
        self.token, self.api_key = token, api_key
        self.lock = threading.Lock()
        self.submissions = {}  # id -> {"state": pending|registered|refused, "plate", "polls", "reason"}
        self.requests = {}  # id -> {"submits": n, "polls": n}
        self.bodies = {}
        self.faults = {}
        self.calls = 0
        self.issued = 0

    def count(self, sid, what):
        r = self.requests.setdefault(sid, {"submits": 0, "polls": 0})
        r[what] += 1

    def answer(self, sid, sub):
        """The state of a submission, in the country's words."""
        state, p, reason = sub["state"], sub.get("plate"), sub.get("reason")
        c = self.country
        if c == "ES":
            return "json", {"expediente": sid, "estado": {"registered": "MATRICULADA", "refused": "RECHAZADA", "pending": "EN_TRAMITE"}[state],
                            "matricula": p, "motivo": reason, "fechaMatriculacion": sub.get("at")}
        if c == "PT":
            return "json", {"pedidoId": sid, "estado": {"registered": "CONCLUIDO", "refused": "RECUSADO", "pending": "EM_PROCESSAMENTO"}[state],
                            "matricula": p, "motivo": reason}
        if c == "DE":
            return "json", {"antragsId": sid, "status": {"registered": "ZUGELASSEN", "refused": "ABGELEHNT", "pending": "IN_BEARBEITUNG"}[state],
                            "kennzeichen": p, "grund": reason}
        if c == "FR":
            return "xml", xml_answer("ReponseImmatriculation", {
                "Reference": sid, "Statut": {"registered": "IMMATRICULE", "refused": "REFUSE", "pending": "EN_COURS"}[state],
                "NumeroImmatriculation": p, "Motif": reason}, "urn:fr:siv:1")
        if c == "IT":
            return "xml", xml_answer("EsitoImmatricolazione", {
                "Riferimento": sid, "Stato": {"registered": "IMMATRICOLATO", "refused": "RESPINTO", "pending": "IN_LAVORAZIONE"}[state],
                "Targa": p, "Motivo": reason})
        return "json", {"id": sid, "plate": p}

    def error(self, field, reason):
        c = self.country
        if c == "FR":
            return "xml", xml_answer("Erreur", {"Champ": field, "Message": reason}, "urn:fr:siv:1")
        if c == "IT":
            return "xml", xml_answer("Errore", {"Campo": field, "Messaggio": reason})
        key = {"ES": ("campo", "error"), "PT": ("campo", "erro"), "DE": ("feld", "fehler")}.get(c, ("field", "error"))
        return "json", {key[0]: field, key[1]: reason}

    def new_plate(self, body):
        self.issued += 1
        return "INVALID-PLATE" if self.faults.get("bad_plate") else plate(self.country, self.issued, body)


def handler(body):
    class Handler(simhttp.Handler):
        def reply(self, status, payload=None, headers=()):
            """JSON (None fields left out) or, for a ("xml", bytes) payload, XML."""
            kind, content = payload if isinstance(payload, tuple) else ("json", payload)
            if kind == "xml":
                return self.send(status, content, "application/xml", headers)
            simhttp.Handler.reply(self, status, None if content is None else {k: v for k, v in content.items() if v is not None}, headers)

        def authorised(self):
            if body.token:
                return self.headers.get("Authorization") == f"Bearer {body.token}"
            if body.api_key:
                return self.headers.get("X-Api-Key") == body.api_key
            return True  # FR: the TLS layer already demanded the client certificate

        def do_GET(self):
            if self.path == "/_sim/requests":
                with body.lock:
                    out = {k: dict(v, state=body.submissions.get(k, {}).get("state")) for k, v in body.requests.items()}
                return self.reply(200, out)
            if self.path == "/_sim/bodies":
                with body.lock:
                    return self.reply(200, dict(body.bodies))
            if self.path == "/_sim/state":
                return self.reply(200, simhttp.snapshot(body, Body.STATE))
            if not self.authorised():
                return self.reply(401, {"error": "not authorised"})
            c = body.contract
            if c is None or not self.path.startswith(c["submit"] + "/"):
                return self.reply(404, {"error": "not found"})
            sid = self.path[len(c["submit"]) + 1:]
            with body.lock:
                sub = body.submissions.get(sid)
                body.count(sid, "polls")
                if sub is None:
                    return self.reply(404, body.error("id", "unknown submission"))
                sub["polls"] += 1
                if sub["state"] == "pending" and sub["polls"] >= int(body.faults.get("decide_after", 1)):
                    if body.faults.get("refuse"):
                        sub["state"], sub["reason"] = "refused", body.faults["refuse"]
                    else:
                        sub["state"], sub["plate"] = "registered", body.new_plate(sub["body"])
                return self.reply(200, body.answer(sid, sub))

        def do_PUT(self):
            if self.path != "/_sim/state":
                return self.reply(404, {"error": "not found"})
            self.reply(200, simhttp.restore(body, Body.STATE, self.read_body()))

        def do_POST(self):
            raw = self.read_body()
            if self.path == "/_sim/faults":
                body.faults = json.loads(raw or b"{}")
                with body.lock:
                    for sid in body.faults.get("known", []):
                        body.submissions.setdefault(sid, {"state": "registered", "plate": body.new_plate({}), "polls": 0, "body": {}})
                return self.reply(200, body.faults)
            if not self.authorised():
                return self.reply(401, {"error": "not authorised"})
            c = body.contract
            if c is None:  # generic: any path, any JSON, a plate back
                sid = self.headers.get("Idempotency-Key", "")
                with body.lock:
                    body.count(sid, "submits")
                    body.bodies[sid] = raw.decode()
                    sub = body.submissions.setdefault(sid, {"state": "registered", "plate": body.new_plate({}), "polls": 0, "body": {}})
                return self.reply(201, body.answer(sid, sub))
            if self.path != c["submit"]:
                return self.reply(404, {"error": "not found"})
            try:
                parsed = json.loads(raw) if c["format"] == "json" else parse_xml(raw, c)
            except (ValueError, ET.ParseError) as e:
                return self.reply(400, body.error("body", f"not a valid {c['format']} document: {e}"))
            sid = get(parsed, c["id"]) or ""
            with body.lock:
                body.count(sid, "submits")
                body.bodies[sid] = raw.decode()
                body.calls += 1
                calls, faults = body.calls, dict(body.faults)
            status = simhttp.injected_failure(faults, calls, 500)
            if status:
                return self.reply(status, {"error": "service unavailable"}, [("Retry-After", "1")] if status == 503 else [])
            for field in c["required"]:
                if not get(parsed, field):
                    return self.reply(422, body.error(field, "required"))
            if get(parsed, c["make"]) != "CAAS":
                return self.reply(422, body.error(c["make"], "unknown manufacturer"))
            if not re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", get(parsed, c["vin"]) or ""):
                return self.reply(422, body.error(c["vin"], "not a VIN"))
            if not HOLDER_CHECK[body.country](get(parsed, c["holder"]) or ""):
                return self.reply(422, body.error(c["holder"], "the holder's id fails its check"))
            if faults.get("reject"):
                return self.reply(422, body.error(faults["reject"].get("field"), faults["reject"].get("reason")))
            if faults.get("echo_credentials"):
                said = self.headers.get("Authorization") or self.headers.get("X-Api-Key")
                return self.reply(422, body.error(c["id"], f"refused the request made with {said}"))
            with body.lock:
                if sid in body.submissions:
                    return self.reply(409, body.error(c["id"], "submission id already known"))
                sub = {"state": "pending", "polls": 0, "body": parsed, "at": time.strftime("%Y-%m-%d")}
                if c["mode"] == "sync":
                    sub["state"], sub["plate"] = "registered", body.new_plate(parsed)
                body.submissions[sid] = sub
                answer = body.answer(sid, sub)
            if faults.get("drop_after_accept"):
                self.close_connection = True
                self.connection.shutdown(2)  # accepted, then the line went dead
                return
            self.reply(201 if c["mode"] == "sync" else 202, answer)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--country", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token")
    ap.add_argument("--api-key")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", help="require a client certificate signed by this CA (FR)")
    a = ap.parse_args()
    simhttp.serve(handler(Body(a.country.upper(), a.token, a.api_key)), a.port, a.cert, a.key, a.client_ca)

if __name__ == "__main__":
    main()
