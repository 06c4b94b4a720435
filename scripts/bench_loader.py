#!/usr/bin/env python3
"""The peer a team would write instead of the gateway: a plain Python loader of the Portuguese
DMS sales CSV that does every transform and check `mappings/feeds/dms-sales-pt.yaml` and the
catalogue ask for, and writes the same facts the same way (one SQLite transaction for the file,
synchronous=FULL, WAL, an indexed table, a SHA-256 fact id, the fields as JSON, rejections with
field and reason). `scripts/bench.py` times it next to `caas-gateway ingest`.

    bench_loader.py FILE.csv DATABASE.sqlite
"""
import csv, datetime, hashlib, io, json, re, sqlite3, sys, zoneinfo

LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")
ORDER_REF = re.compile(r"^VD/[0-9]{4}/[0-9]{6}$")
DEALER = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,5}-[0-9]{2}$")
POSTAL = re.compile(r"^[0-9]{4}-[0-9]{3}$")
ISO = set("""AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD
GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ
SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU
WF WS YE YT ZA ZM ZW""".split())
PLANS = {"BASE-URBAN", "BASE-FAMILY", "BASE-SPORT"}
OPTIONS = {"HEATED-SEATS", "ADAPTIVE-CRUISE", "PREMIUM-AUDIO", "AUTOPARK", "WINTER-PACK", "TOWBAR"}
DELIVERY = {"DOMICILIO": "HOME", "CONCESSIONARIO": "DEALERSHIP"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
VIN = re.compile(r"^[0-9A-HJ-NPR-Z]{17}$")
MAX_FIELD = 16 * 1024


class Bad(Exception):
    def __init__(self, field, reason):
        self.field, self.reason = field, reason


def nif(v):
    v = v.replace(" ", "").replace("-", "").replace(".", "").upper()
    if v.startswith("PT"): v = v[2:]
    if len(v) != 9 or not v.isdigit(): raise Bad("customer.national_id", "Portuguese NIF must be 9 digits")
    check = 11 - sum(int(v[i]) * (9 - i) for i in range(8)) % 11
    if (0 if check >= 10 else check) != int(v[8]): raise Bad("customer.national_id", "Portuguese NIF check digit does not match")


def email(v):
    if len(v) > 254 or v.count("@") != 1 or v.startswith("@"): raise Bad("customer.email", "email must have one @ with a local part before it")
    domain = v.split("@")[1]
    if len(domain) < 3 or "." not in domain or domain[0] == "." or domain[-1] == "." or any(c <= " " or c in ",;<>" for c in v):
        raise Bad("customer.email", "email domain is not valid")


def minor(v, field):
    t = v.strip().replace(".", "")
    whole, _, cents = t.partition(",")
    if not whole.lstrip("-").isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)): raise Bad(field, "not an amount")
    return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0) * (-1 if whole.startswith("-") else 1)


def sale(row, col):
    def raw(name):
        i = col.get(name)
        v = row[i] if i is not None and i < len(row) else ""
        if len(v.encode()) > MAX_FIELD: raise Bad(name, "too long")
        if CONTROL.search(v): raise Bad(name, "control character")
        return v
    f = {}
    ref = raw("ref_venda").strip()
    if not ref: raise Bad("order_ref", "required")
    if not ORDER_REF.match(ref): raise Bad("order_ref", "does not match")
    try:
        at = datetime.datetime.strptime(raw("data_registo").strip(), "%d/%m/%Y %H:%M").replace(tzinfo=LISBON)
    except ValueError:
        raise Bad("occurred_at", "not a time")
    dealer = raw("concessionario")
    if not DEALER.match(dealer): raise Bad("dealer_code", "does not match")
    f["dealer_code"] = dealer
    country = raw("pais").strip().upper()
    if country not in ISO: raise Bad("country", "not an ISO 3166-1 alpha-2 country code")
    f["country"] = country
    f["customer.national_id_type"] = "NIF"
    national = raw("nif").strip()
    nif(national)
    f["customer.national_id"] = national
    f["customer.given_name"] = raw("nome").strip()
    f["customer.family_name"] = raw("apelido").strip()
    mail = raw("email").strip().lower()
    email(mail)
    f["customer.email"] = mail
    f["customer.phone"] = raw("telemovel").strip()
    f["customer.street"] = raw("morada").strip()
    postal = raw("codigo_postal").strip()
    if postal and not POSTAL.match(postal): raise Bad("customer.postal_code", "does not match")
    f["customer.postal_code"] = postal
    f["customer.city"] = raw("localidade").strip()
    f["customer.country"] = country
    plan = raw("plano").strip().upper()
    if plan not in PLANS: raise Bad("plan", "not in the catalogue")
    f["plan"] = plan
    options = [o.upper() for o in raw("opcoes").split("|") if o]
    if any(o not in OPTIONS for o in options): raise Bad("options", "not in the catalogue")
    f["options"] = options
    currency = raw("moeda").strip().upper()
    if currency != "EUR": raise Bad("currency", "is not EUR")
    f["currency"] = currency
    total, deposit = minor(raw("preco_total"), "total_minor"), minor(raw("sinal"), "deposit_minor")
    if total <= 0: raise Bad("total_minor", "must be positive")
    if deposit <= 0 or deposit > total: raise Bad("deposit_minor", "out of bounds")
    f["total_minor"], f["deposit_minor"] = total, deposit
    mode = DELIVERY.get(raw("entrega").strip().upper())
    if mode is None: raise Bad("delivery_mode", "not HOME or DEALERSHIP")
    f["delivery_mode"] = mode
    for k, c in (("delivery.street", "morada"), ("delivery.postal_code", "codigo_postal"), ("delivery.city", "localidade")):
        f[k] = raw(c).strip()
    f["delivery.country"] = country
    stock = raw("vin_stock").strip().upper()
    if stock:
        if not VIN.match(stock): raise Bad("stock_vin", "VIN shape")
        f["stock_vin"] = stock
    return ref, at.astimezone(datetime.timezone.utc), {k: v for k, v in f.items() if v != ""}


def main(path, db_path):
    data = open(path, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript("""
        CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT, status TEXT);
        CREATE TABLE IF NOT EXISTS facts (id TEXT PRIMARY KEY, order_ref TEXT NOT NULL, kind TEXT NOT NULL, occurred_at INTEGER NOT NULL,
            fields TEXT NOT NULL, file_id INTEGER, record_no INTEGER, line INTEGER, mapping TEXT, mapping_version INTEGER, run_id TEXT);
        CREATE INDEX IF NOT EXISTS facts_order ON facts(order_ref);
        CREATE TABLE IF NOT EXISTS rejections (file_hash TEXT, record_no INTEGER, line INTEGER, field TEXT, reason TEXT);
        CREATE TABLE IF NOT EXISTS dirty_orders (order_ref TEXT PRIMARY KEY, version INTEGER NOT NULL);
    """)
    db.execute("BEGIN IMMEDIATE")
    file_id = db.execute("INSERT INTO files(hash, name, status) VALUES (?, ?, 'ingesting')", (digest, path)).lastrowid
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";", quotechar='"')
    header = next(reader)
    col = {h.strip().lower(): i for i, h in enumerate(header)}
    insert = "INSERT INTO facts VALUES (?, ?, 'sale_registered', ?, ?, ?, ?, ?, 'dms-sales-pt', 2, 'bench') ON CONFLICT(id) DO NOTHING"
    accepted = rejected = 0
    for n, row in enumerate(reader, start=1):
        line = reader.line_num
        try:
            ref, at, fields = sale(row, col)
        except Bad as b:
            db.execute("INSERT INTO rejections VALUES (?, ?, ?, ?, ?)", (digest, n, line, b.field, b.reason))
            rejected += 1
            continue
        h = hashlib.sha256(b"dms-sales-pt\x1fsale_registered\x1f" + ref.encode()).hexdigest()[:32]
        text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        cur = db.execute(insert, ("f_" + h, ref, int(at.timestamp() * 1000), text, file_id, n, line))
        if cur.rowcount == 0:
            known = db.execute("SELECT fields FROM facts WHERE id = ?", ("f_" + h,)).fetchone()
            if known and known[0] != text:
                db.execute("INSERT INTO rejections VALUES (?, ?, ?, NULL, 'conflict')", (digest, n, line))
        accepted += 1
    db.execute("INSERT INTO dirty_orders(order_ref, version) SELECT DISTINCT order_ref, 1 FROM facts WHERE file_id = ? "
               "ON CONFLICT(order_ref) DO UPDATE SET version = version + 1", (file_id,))
    db.execute("UPDATE files SET status = 'ingested' WHERE id = ?", (file_id,))
    db.execute("COMMIT")
    print(f"{accepted} accepted, {rejected} rejected", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
