// qxt.cache_max_age: the lookup functions may answer from qxt_lookups (the
// table qxt_refresh fills) when a row is young enough.  They only ever read
// it, with the caller's privileges, so a read-only transaction or a standby
// works; only qxt_refresh writes the table.
//
// A cached answer is served in place of one the vendor would have sent, to
// whoever calls, superusers included.  So the table is trusted only when
// nobody but the trusted can have written it:
//  - it belongs to a superuser;
//  - no other role (PUBLIC included) holds INSERT, UPDATE or TRIGGER on it,
//    nor INSERT or UPDATE on one of its columns; superusers and members of
//    pg_write_all_data can write every table anyway and are trusted;
//  - it has no user trigger.
// Otherwise the functions answer live (paying) and say why in one WARNING
// per statement.  Every row is checked again here before it is served (a
// code the vendor sends per number, read at full width; a time not in the
// future; a success with its fields; a failure without); a row that fails
// is never served, the number is looked up live.
#include "convert.hpp"
#include "qxt_pg.hpp"
#include "spi.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace {

// The privileges that let a role put a row of its own into the table.
constexpr AclMode kWriteModes = ACL_INSERT | ACL_UPDATE | ACL_TRIGGER;

// A role whose grant on the table does not matter: the owner, superusers
// and pg_write_all_data (its members may write every table anyway).
bool trusted_grantee(Oid grantee, Oid owner) {
  return grantee == owner || grantee == ROLE_PG_WRITE_ALL_DATA ||
         (grantee != ACL_ID_PUBLIC && superuser_arg(grantee));
}

// Appends to `why` the roles an ACL lets write, besides the trusted.
void untrusted_writers(Datum acl_datum, Oid owner, AclMode modes, StringInfo why,
                       const char* column) {
  Acl* acl = DatumGetAclP(acl_datum);
  const AclItem* items = ACL_DAT(acl);
  for (int i = 0; i < ACL_NUM(acl); ++i) {
    if ((ACLITEM_GET_PRIVS(items[i]) & modes) == 0) continue;
    if (trusted_grantee(items[i].ai_grantee, owner)) continue;
    const char* who = items[i].ai_grantee == ACL_ID_PUBLIC
                          ? "PUBLIC"
                          : GetUserNameFromId(items[i].ai_grantee, true);
    if (who == nullptr) who = "a dropped role";
    if (column != nullptr)
      appendStringInfo(why, "%s%s may write its column %s", why->len ? "; " : "", who, column);
    else
      appendStringInfo(why, "%s%s may write it", why->len ? "; " : "", who);
  }
}

// Why qxt_lookups cannot be trusted ("" when it can), and checks the
// caller's right to read it first (42501 with a HINT, before any query).
void check_table(Oid relid, StringInfo why) {
  if (!qxt_may_read(relid)) {
    const char* role = GetUserNameFromId(GetUserId(), false);
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("permission denied to answer from qxt_lookups (qxt.cache_max_age is set)"),
             errdetail("Answering from the cache reads table qxt_lookups with the caller's "
                       "privileges; role \"%s\" may not read it.",
                       role),
             errhint("GRANT SELECT ON qxt_lookups TO %s, or RESET qxt.cache_max_age to look "
                     "numbers up live.",
                     quote_identifier(role))));
  }

  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
  Form_pg_class cls = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
  const Oid owner = cls->relowner;
  const bool has_triggers = cls->relhastriggers;
  if (cls->relkind != RELKIND_RELATION)
    appendStringInfoString(why, "it is not a plain table");
  if (!superuser_arg(owner)) {
    const char* who = GetUserNameFromId(owner, true);
    appendStringInfo(why, "%sit belongs to role \"%s\", not a superuser", why->len ? "; " : "",
                     who ? who : "?");
  }
  bool isnull;
  Datum acl = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &isnull);
  if (!isnull) untrusted_writers(acl, owner, kWriteModes, why, nullptr);
  ReleaseSysCache(tup);

  // Column privileges (GRANT INSERT (col) / UPDATE (col)).
  for (AttrNumber att = 1;; ++att) {
    HeapTuple at = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(att));
    if (!HeapTupleIsValid(at)) break;
    Form_pg_attribute a = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(at));
    if (!a->attisdropped) {
      Datum cacl = SysCacheGetAttr(ATTNUM, at, Anum_pg_attribute_attacl, &isnull);
      if (!isnull)
        untrusted_writers(cacl, owner, ACL_INSERT | ACL_UPDATE, why, NameStr(a->attname));
    }
    ReleaseSysCache(at);
  }

  // User triggers (internal ones, e.g. of a foreign key, cannot change rows).
  if (has_triggers) {
    Relation tg = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(tg, TriggerRelidNameIndexId, true, nullptr, 1, &key);
    HeapTuple t;
    while (HeapTupleIsValid(t = systable_getnext(scan))) {
      Form_pg_trigger f = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(t));
      if (f->tgisinternal) continue;
      appendStringInfo(why, "%sit has trigger \"%s\"", why->len ? "; " : "", NameStr(f->tgname));
    }
    systable_endscan(scan);
    table_close(tg, AccessShareLock);
  }
}

// One WARNING per statement and kind.
struct Warned {
  QxtStatement st{0, 0};
  bool valid = false;
};
Warned g_warned_untrusted;
Warned g_warned_invalid;

bool first_in_statement(Warned& w) {
  QxtStatement st = qxt_current_statement();
  if (w.valid && w.st.start == st.start && w.st.lxid == st.lxid) return false;
  w.st = st;
  w.valid = true;
  return true;
}

constexpr int kNcols = 7;
const Oid kColTypes[kNcols] = {TEXTOID, INT4OID, INT2OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};

// The non-zero keys as a text[] (duplicates are skipped by the query);
// nullptr when there is none.
ArrayType* keys_array(const uint64* keys, int n) {
  Datum* elems = static_cast<Datum*>(palloc_extended(sizeof(Datum) * n, MCXT_ALLOC_HUGE));
  int m = 0;
  for (int i = 0; i < n; ++i) {
    if (keys[i] == 0) continue;
    elems[m++] = qxt_key_text(keys[i]);
  }
  if (m == 0) return nullptr;
  return construct_array(elems, m, TEXTOID, -1, false, TYPALIGN_INT);
}

// Whether qxt_lookups (in schema `nsp`) may answer; when not, says why in
// one WARNING per statement.
bool table_trusted(Oid nsp) {
  const Oid relid = get_relname_relid("qxt_lookups", nsp);
  if (!OidIsValid(relid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                    errmsg("table qxt_lookups of extension qxt_portability does not exist")));
  StringInfoData why;
  initStringInfo(&why);
  check_table(relid, &why);
  if (why.len == 0) return true;
  if (first_in_statement(g_warned_untrusted))
    ereport(WARNING,
            (errmsg("qxt_lookups is not trusted: answering live instead of from the cache"),
             errdetail("A cached answer is served to every caller as the vendor's; %s.", why.data),
             errhint("Only qxt_refresh should write qxt_lookups, as its owner (a superuser): "
                     "revoke INSERT, UPDATE and TRIGGER from other roles and drop user "
                     "triggers, or RESET qxt.cache_max_age.")));
  return false;
}

// Whether the result has the columns this version writes.
bool shape_ok(TupleDesc td) {
  bool ok = td->natts == kNcols;
  for (int c = 0; ok && c < kNcols; ++c) ok = SPI_gettypeid(td, c + 1) == kColTypes[c];
  return ok;
}

// Whether a row (its columns in v/isnull) can be the vendor's answer: a
// number in its own normalised form (its key in *key), a per-number code,
// a time not after `now`, the fields of a success and none otherwise.
bool row_valid(const Datum* v, const bool* isnull, TimestampTz now, uint64* key) {
  bool ok = !isnull[0] && !isnull[1] && !isnull[6];
  if (ok) {
    // The number: exactly its own normalised form.
    std::string_view sv = qxt_text_view(DatumGetTextPP(v[0]));
    char digits[qxt::kMobileDigits];
    ok = sv.size() == qxt::kMobileDigits && qxt::normalize_mobile(sv, digits) &&
         std::memcmp(digits, sv.data(), qxt::kMobileDigits) == 0;
    if (ok) *key = qxt::mobile_to_key(sv);
  }
  const int32 code = ok ? DatumGetInt32(v[1]) : 1;
  ok = ok && qxt::is_kept_answer(code) && DatumGetTimestampTz(v[6]) <= now;
  if (ok && code == 0) {
    const int16 r = isnull[2] ? -1 : DatumGetInt16(v[2]);
    ok = (r == 0 || r == 1 || r == 3);
    for (int c = 3; ok && c < 6; ++c) ok = !isnull[c] && VARSIZE_ANY_EXHDR(DatumGetTextPP(v[c])) > 0;
  } else if (ok) {
    for (int c = 2; ok && c < 6; ++c) ok = isnull[c];
  }
  return ok;
}

}  // namespace

int qxt_cache_fetch(const uint64* keys, int n, int max_age_s, QxtCachedRow** out) {
  *out = nullptr;
  if (max_age_s < 0 || n == 0) return 0;
  ArrayType* arr = keys_array(keys, n);
  if (arr == nullptr) return 0;
  const Oid nsp = qxt_extension_namespace();
  if (!table_trusted(nsp)) return 0;

  // Rows looked up at or after this moment are young enough.
  const TimestampTz now = GetCurrentTimestamp();
  const TimestampTz cutoff =
      GetCurrentTransactionStartTimestamp() - static_cast<int64>(max_age_s) * USECS_PER_SEC;

  MemoryContext caller = CurrentMemoryContext;
  qxt_spi_connect(0, "qxt");
  const char* q = qxt_sql("SELECT mobile, code, res, area, init_isp, now_isp, looked_up_at "
                          "FROM ONLY %s.qxt_lookups "
                          "WHERE mobile OPERATOR(pg_catalog.=) ANY ($1) "
                          "AND looked_up_at OPERATOR(pg_catalog.>=) $2",
                          quote_identifier(get_namespace_name(nsp)));
  Oid types[2] = {TEXTARRAYOID, TIMESTAMPTZOID};
  Datum values[2] = {PointerGetDatum(arr), TimestampTzGetDatum(cutoff)};
  int rc = qxt_spi_execute(q, true, 0, 2, types, values, nullptr);
  if (rc != SPI_OK_SELECT)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("qxt: reading qxt_lookups failed (SPI code %d)", rc)));
  TupleDesc td = SPI_tuptable->tupdesc;
  if (!shape_ok(td)) {
    SPI_finish();
    if (first_in_statement(g_warned_untrusted))
      ereport(WARNING,
              (errmsg("qxt_lookups is not trusted: answering live instead of from the cache"),
               errdetail("Its columns do not have the types this version of the extension "
                         "writes.")));
    return 0;
  }

  // Copy the rows that pass every check out (strings as UTF-8, like the
  // vendor's) before SPI_finish.
  const int rows = static_cast<int>(SPI_processed);
  QxtCachedRow* res = static_cast<QxtCachedRow*>(
      MemoryContextAllocExtended(caller, sizeof(QxtCachedRow) * (rows + 1), MCXT_ALLOC_HUGE));
  int kept = 0;
  long refused = 0;
  for (int i = 0; i < rows; ++i) {
    bool isnull[kNcols];
    Datum v[kNcols];
    for (int c = 0; c < kNcols; ++c) v[c] = SPI_getbinval(SPI_tuptable->vals[i], td, c + 1, &isnull[c]);
    uint64 key = 0;
    if (!row_valid(v, isnull, now, &key)) {
      ++refused;
      continue;
    }
    const int32 code = DatumGetInt32(v[1]);
    QxtCachedRow& row = res[kept++];
    row.key = key;
    row.code = code;
    row.res = code == 0 ? DatumGetInt16(v[2]) : -1;
    row.area = code == 0 ? qxt_text_to_utf8(caller, DatumGetTextPP(v[3])) : "";
    row.init_isp = code == 0 ? qxt_text_to_utf8(caller, DatumGetTextPP(v[4])) : "";
    row.now_isp = code == 0 ? qxt_text_to_utf8(caller, DatumGetTextPP(v[5])) : "";
  }
  SPI_finish();
  if (refused > 0 && first_in_statement(g_warned_invalid))
    ereport(WARNING,
            (errmsg("qxt_lookups holds %ld row(s) that cannot be the vendor's answers; those "
                    "numbers were looked up live",
                    refused),
             errdetail("A row is served only with a per-number code (0, -2, -3 or -4), a time "
                       "not in the future, and the answer's fields for code 0 (none "
                       "otherwise).")));
  *out = res;
  return kept;
}
