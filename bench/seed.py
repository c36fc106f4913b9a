"""Seed the benchmark database fast: COPY (psycopg 3 `cursor.copy`) of generated rows.

Why it is fast: secondary indexes of the big tables are dropped before the load and built once after
it; triggers (pghistory's audit triggers and the foreign-key checks) are off for the seeding session
(`session_replication_role = replica`, the rows are consistent by construction); rows are produced as
COPY text in large chunks. Then VACUUM ANALYZE so the planner and index-only scans see a settled table.

Columns added later by other apps are handled: a NOT NULL column without a database default that the
generator does not fill gets its type's zero value ('' / 0 / false / '{}' / now()).
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg

FIRST = ("james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan "
         "joseph jessica thomas sarah charles karen christopher nancy daniel lisa matthew betty anthony margaret "
         "mark sandra donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin "
         "amanda brian melissa george deborah timothy stephanie ronald rebecca edward sharon jason laura jeffrey "
         "cynthia ryan kathleen jacob amy gary angela nicholas shirley eric anna jonathan brenda stephen pamela "
         "larry emma justin nicole scott helen brandon samantha benjamin katherine samuel christine gregory debra "
         "alexander rachel frank carolyn patrick janet raymond catherine jack maria dennis heather jerry diane "
         "tyler ruth aaron julie jose olivia adam joyce nathan virginia henry victoria douglas kelly zachary "
         "lauren peter christina kyle joan ethan evelyn walter judith noah megan jeremy andrea christian cheryl "
         "keith hannah roger jacqueline terry martha gerald gloria harold teresa sean ann austin sara carl madison "
         "arthur frances lawrence kathryn dylan janice jesse jean jordan abigail bryan alice billy julia joe judy "
         "bruce sophia gabriel grace logan denise albert amber willie doris alan marilyn juan danielle wayne "
         "beverly elijah isabella randy theresa roy diana vincent natalie ralph brittany eugene charlotte russell "
         "marie bobby kayla mason alexis philip lori louis zoe chloe renee amelie jose francois").split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
        "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez "
        "lewis robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker "
        "hall rivera campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins "
        "reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly "
        "howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes "
        "price alvarez castillo sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan "
        "bell coleman butler henderson barnes gonzales fisher vasquez simmons romero jordan patterson alexander "
        "hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera gibson ellis tran "
        "medina aguilar stevens murray ford castro marshall owens harrison fernandez mcdonald woods washington "
        "kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson simpson porter hunter "
        "gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd "
        "rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto "
        "weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos "
        "hart bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray "
        "delgado berry perkins hoffman johnston matthews pena richards contreras willis carpenter lawrence "
        "sandoval muller dubois lefevre rossi bianchi novak kowalski").split()
WORDS = ("acme globex initech umbrella stark wayne wonka tyrell cyberdyne soylent hooli vandelay pied piper "
         "aperture massive dynamic oscorp monarch gringotts duff nakatomi virtucon zorg weyland yutani "
         "northwind contoso fabrikam adventure works tailspin litware proseware fourth coffee blue yonder "
         "alpine ski datum wide world importers lucerne margie travel southridge trey research wingtip toys "
         "woodgrove bank coho winery graphic design humongous insurance").split()
JOBS = ("Engineer,Manager,Director,Sales Lead,Account Executive,CTO,CFO,Consultant,Analyst,Designer,"
        "Buyer,Office Manager,Founder,Developer,Recruiter").split(",")
TYPES = (("customer", "Customer"), ("lead", "Lead"), ("partner", "Partner"), ("supplier", "Supplier"),
         ("press", "Press"))
STATUSES = ("active",) * 12 + ("new",) * 3 + ("inactive",) * 3 + ("archived",) * 2
BIG_TABLES = ("contacts_contact", "contacts_contactcategory", "contacts_groupmembership",
              "communications_communication")
CHUNK_ROWS = 20000


REBUILD_COUNTS = ("SELECT contacts_rollup_rebuild()", """
    INSERT INTO contacts_organizationcontactcount (organization_id, contacts)
    SELECT o.id, count(c.id) FROM organization_organization o LEFT JOIN contacts_contact c ON c.organization_id = o.id
     GROUP BY o.id
    ON CONFLICT (organization_id) DO UPDATE SET contacts = EXCLUDED.contacts""")


def rebuild_counts(conn) -> None:
    """The counts the statement triggers keep, recomputed after writes made with the triggers off."""
    for statement in REBUILD_COUNTS:
        conn.execute(statement)


def uuid7_text(ms: int, i: int, salt: int = 0) -> str:
    """A time-ordered (v7) UUID for row i at epoch-millisecond ms; unique per (i, salt)."""
    rand_b = 0x8000000000000000 | (((i << 4 | salt) * 2654435761) & 0x3FFFFFFFFFFFFFFF)
    h = f"{ms & 0xFFFFFFFFFFFF:012x}7{(i * 40503 + salt) & 0xFFF:03x}{rand_b:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def ts(value: datetime) -> str:
    return value.isoformat()


ZERO_BY_TYPE = {"text": "", "character varying": "", "integer": "0", "smallint": "0", "bigint": "0",
                "double precision": "0", "numeric": "0", "real": "0", "boolean": "f", "jsonb": "{}", "json": "{}",
                "ARRAY": "{}", "uuid": None, "timestamp with time zone": "now", "date": "now", "citext": ""}


class Loader:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.timings: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def columns(self, table: str) -> list[tuple]:
        return self.conn.execute(
            "SELECT column_name, is_nullable, column_default, data_type, is_generated, is_identity "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
            "ORDER BY ordinal_position", [table]).fetchall()

    def copy(self, table: str, columns: list[str], rows: Iterable[tuple]) -> int:
        """COPY rows (tuples of text or None) into table; fills unknown NOT NULL columns with zero values."""
        extra, extra_values = [], []
        for name, nullable, default, dtype, generated, identity in self.columns(table):
            if name in columns or nullable == "YES" or default is not None or generated == "ALWAYS" \
                    or identity == "YES":
                continue
            zero = ZERO_BY_TYPE.get(dtype, "")
            if zero is None:
                raise SystemExit(f"bench seed: {table}.{name} ({dtype}) is NOT NULL without a default; "
                                 "teach bench/seed.py a value for it")
            extra.append(name)
            extra_values.append(datetime.now(UTC).isoformat() if zero == "now" else zero)
        names = ", ".join(f'"{c}"' for c in [*columns, *extra])
        tail = "\t".join(extra_values)
        started = time.perf_counter()
        count = 0
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            buffer: list[str] = []
            for row in rows:
                line = "\t".join("\\N" if v is None else v for v in row)
                buffer.append(f"{line}\t{tail}\n" if extra else line + "\n")
                count += 1
                if len(buffer) >= CHUNK_ROWS:
                    copy.write("".join(buffer))
                    buffer.clear()
            if buffer:
                copy.write("".join(buffer))
        self.timings[table] = self.timings.get(table, 0.0) + time.perf_counter() - started
        self.rows[table] = self.rows.get(table, 0) + count
        return count


def drop_secondary_indexes(conn, tables: Iterable[str]) -> list[str]:
    """Drop indexes that back no constraint; return their definitions for rebuilding."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [list(tables)]).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]


def seed(dsn: str, n_contacts: int, log=print) -> dict:
    """Fill an empty, migrated database. Returns what was loaded, the rates, and the bench token."""
    n_orgs = max(10, n_contacts // 100)
    n_groups = max(10, n_contacts // 1000)
    n_categories = 60
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=730)
    start = now - span
    step = span / max(1, n_contacts)
    report: dict = {"contacts": n_contacts, "organizations": n_orgs, "groups": n_groups,
                    "categories": n_categories}
    token = secrets.token_hex(20)
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("SET session_replication_role = replica")  # no audit triggers, no FK checks
            trigger_mode = "session_replication_role"
        except psycopg.Error:
            trigger_mode = "disable_trigger_user"
            for table in BIG_TABLES:
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        total_started = time.perf_counter()
        # users: an admin for the load driver (with an API token) and 20 owners
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined) SELECT '!', g = 0, CASE WHEN g = 0 THEN 'bench-admin' ELSE 'owner' || g END, "
            "'', '', '', g = 0, true, now() FROM generate_series(0, 20) g")
        admin_id, = conn.execute("SELECT id FROM auth_user WHERE username = 'bench-admin'").fetchone()
        owner_ids = [str(r[0]) for r in conn.execute("SELECT id FROM auth_user WHERE username <> 'bench-admin' "
                                                      "ORDER BY id").fetchall()]
        conn.execute("INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, now())", [token, admin_id])
        loader = Loader(conn)
        loader.copy("organization_contacttype", ["key", "label", "description", "is_active", "created_at",
                                                 "updated_at"],
                    ((k, label, "", "t", ts(now), ts(now)) for k, label in TYPES))
        cat_ids = [uuid7_text(int(start.timestamp() * 1000), i, 1) for i in range(n_categories)]
        loader.copy("organization_category", ["id", "name", "parent_id", "description", "created_at", "updated_at"],
                    ((cid, f"Category {i}", None if i < 10 else cat_ids[i % 10], "", ts(start), ts(start))
                     for i, cid in enumerate(cat_ids)))
        org_ids = [uuid7_text(int(start.timestamp() * 1000) + i, i, 2) for i in range(n_orgs)]
        loader.copy("organization_organization", ["id", "name", "domain", "parent_id", "category_id", "created_at",
                                                  "updated_at"],
                    ((oid, f"{WORDS[i % len(WORDS)].title()} {WORDS[(i * 7) % len(WORDS)].title()} {i}",
                      f"org{i}.example.com", None, cat_ids[i % n_categories], ts(start), ts(start))
                     for i, oid in enumerate(org_ids)))

        secondary = drop_secondary_indexes(conn, BIG_TABLES)
        contact_ids: list[str] = [""] * n_contacts

        def contacts() -> Iterator[tuple]:
            nf, nl, no, nown = len(FIRST), len(LAST), len(org_ids), len(owner_ids)
            for i in range(n_contacts):
                created = start + step * i
                cid = uuid7_text(int(created.timestamp() * 1000), i)
                contact_ids[i] = cid
                first, last = FIRST[(i * 7919) % nf], LAST[(i * 104729) % nl]
                r = (i * 2654435761 + 12345) & 0xFFFFFFFF  # independent attributes from different bits
                status = STATUSES[(r >> 3) % len(STATUSES)]
                yield (cid, first.title(), last.title(), f"{first}.{last}.{i}@example{i % 50}.com",
                       f"+1{2000000000 + i}", None if i % 10 == 0 else org_ids[(i * 31) % no],
                       None if i % 10 == 9 else TYPES[i % len(TYPES)][0], status, ts(created),
                       ts(created + timedelta(hours=i % 48)), JOBS[i % len(JOBS)],
                       None if (r >> 11) % 5 == 0 else owner_ids[(r >> 17) % nown], "", "", "1", "{}",
                       "{vip}" if i % 20 == 0 else "{}", ts(created) if status != "new" else None, "0")

        started = time.perf_counter()
        loader.copy("contacts_contact",
                    ["id", "first_name", "last_name", "email", "phone", "organization_id", "type", "status",
                     "created_at", "updated_at", "job_title", "owner_id", "timezone", "locale", "priority",
                     "custom_fields", "tags", "status_changed_at", "engagement_score"], contacts())
        contact_seconds = time.perf_counter() - started
        report["contact_copy_seconds"] = round(contact_seconds, 2)
        report["contacts_per_second"] = round(n_contacts / contact_seconds)
        log(f"  contacts: {n_contacts:,} in {contact_seconds:.1f} s ({n_contacts / contact_seconds:,.0f}/s)")

        loader.copy("contacts_contactcategory", ["contact_id", "category_id"],
                    ((contact_ids[i], cat_ids[(i * 17) % n_categories]) for i in range(0, n_contacts, 2)))
        group_ids = [uuid7_text(int(start.timestamp() * 1000) + i, i, 3) for i in range(n_groups)]
        loader.copy("contacts_contactgroup", ["id", "name", "description", "organization_id", "owner_id",
                                              "created_at", "updated_at"],
                    ((gid, f"Group {i}", "", org_ids[i % len(org_ids)] if i % 3 == 0 else None, None, ts(start),
                      ts(start)) for i, gid in enumerate(group_ids)))
        loader.copy("contacts_groupmembership", ["group_id", "contact_id", "added_at"],
                    ((group_ids[(i * 13) % n_groups], contact_ids[i], ts(now)) for i in range(n_contacts)))

        def communications() -> Iterator[tuple]:
            kinds = ("email", "email", "email", "sms", "call", "note")
            states = ("sent", "delivered", "delivered", "opened", "clicked", "failed", "scheduled")
            for k in range(0, n_contacts, 2):
                created = start + step * k + timedelta(hours=1)
                state = states[k % len(states)]
                when = now + timedelta(days=1 + k % 30) if state == "scheduled" else created
                yield (uuid7_text(int(created.timestamp() * 1000), k, 5), contact_ids[k], kinds[k % len(kinds)],
                       f"Hello {k}", state, ts(when), ts(created), ts(created), "outbound", f"Subject {k % 100}",
                       "transactional", "", None if state == "scheduled" else ts(created), "", "{}")

        try:
            loader.copy("communications_communication",
                        ["id", "contact_id", "type", "content", "status", "scheduled_at", "created_at",
                         "updated_at", "direction", "subject", "purpose", "status_reason", "sent_at",
                         "provider_message_id", "metadata"], communications())
        except psycopg.Error as exc:  # a schema change the generator does not know yet: say so, go on
            log(f"  communications not seeded: {str(exc).strip().splitlines()[0]}")
            report["communications_error"] = str(exc).strip().splitlines()[0]
        load_seconds = time.perf_counter() - total_started
        started = time.perf_counter()
        for definition in secondary:
            conn.execute(definition)
        index_seconds = time.perf_counter() - started
        log(f"  {len(secondary)} secondary indexes rebuilt in {index_seconds:.1f} s")
        if trigger_mode == "disable_trigger_user":
            for table in BIG_TABLES:
                conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.execute("RESET session_replication_role")
        # the counts the statement triggers keep (they were off during the load)
        rebuild_counts(conn)
        started = time.perf_counter()
        for table in ("organization_organization", "organization_category", *BIG_TABLES, "contacts_contactgroup"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        vacuum_seconds = time.perf_counter() - started
    total_rows = sum(loader.rows.values())
    report.update({
        "rows": loader.rows, "total_rows": total_rows, "copy_seconds": round(load_seconds, 2),
        "rows_per_second": round(total_rows / load_seconds), "index_seconds": round(index_seconds, 2),
        "vacuum_analyze_seconds": round(vacuum_seconds, 2),
        "total_seconds": round(load_seconds + index_seconds + vacuum_seconds, 2),
        "trigger_mode": trigger_mode, "token": token, "group_ids": group_ids, "category_ids": cat_ids,
        "organization_ids": org_ids[:200],
    })
    return report
