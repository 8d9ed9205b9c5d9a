// Statements that would write the vendor key where other roles read it.
//
// A ProcessUtility hook sees every utility statement before it runs, at top
// level and nested (DO blocks, functions):
//  - ALTER SYSTEM SET qxt.apikey (postgresql.auto.conf; and every role reads
//    a configured key with SHOW in a session that has not loaded the
//    library), ALTER ROLE / ALTER DATABASE ... SET qxt.apikey (also FROM
//    CURRENT; pg_db_role_setting and pg_roles are public) and CREATE / ALTER
//    FUNCTION / PROCEDURE ... SET qxt.apikey (pg_proc.proconfig is public)
//    are refused before anything runs.  ALTER SYSTEM RESET qxt.apikey (and
//    SET ... TO DEFAULT) stays allowed.
//  - A superuser's SET qxt.apikey = '...' in a session runs, but the text
//    that pg_stat_activity shows is replaced first by a copy with the value
//    masked, and the statement text handed down the hook chain (to
//    pg_stat_statements or any other library loaded before us) is that
//    masked copy, of the same length so that statement locations stay valid.
//    A library loaded after us wraps this hook and sees the text first: then
//    SET qxt.apikey is refused (55000).
//  - Any other utility statement (DO, CALL, EXPLAIN, COPY, ...) may set the
//    key while it runs (a SET inside a DO block, set_config() in a procedure
//    or a query), and pg_stat_statements keeps a utility statement's whole
//    text as sent, without replacing its constants.  So, when our hook is
//    the outermost, the text handed down the hook chain is a copy of ours,
//    and the value of every key set while the statement runs is masked in
//    it (and in those of the statements around it) before anything inside
//    our hook keeps it.  The statements of one query string share one copy
//    (made once per message, however many statements the string holds).
//    When a library loaded after us wraps this hook, it has seen the text
//    already: then setting the key inside a utility statement is refused
//    (55000), as SET is.  A plain SELECT set_config() at top level stays
//    allowed: pg_stat_statements replaces its constants.
//  - The server log writes a failing statement's text (STATEMENT: with
//    log_min_error_statement, by default for every ERROR).  Once a key was
//    set by the current statement text, errors reported while that text is
//    the current one are logged without it (and without CONTEXT, which may
//    quote one of its statements).
// Every refusal is raised with errhidestmt and without any CONTEXT, so
// log_min_error_statement does not write the refused statement (key
// included) into the server log, and no PL/pgSQL CONTEXT line quotes it, to
// the log or to the client.
//
// An emit_log_hook masks the value in the postmaster's "parameter
// "qxt.apikey" changed to ..." line of a configuration reload (only where
// the library is preloaded: the postmaster runs our hooks only then).
#include <cctype>

#include "qxt_pg.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "parser/scanner.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

namespace {

ProcessUtility_hook_type g_prev_utility = nullptr;
emit_log_hook_type g_prev_emit_log = nullptr;

// The statement texts handed down the hook chain by the utility statements
// now running under our hook, innermost first: our copies, in which a key
// set while they run is masked.
struct Handed {
  char* text;
  Handed* next;
};
Handed* g_handed = nullptr;
int g_utility_depth = 0;  // utility statements now running under our hook

// The copy of the current query message's text, shared by its top-level
// statements; forgotten when MessageContext (where it lives) is reset for
// the next message.
const char* g_message_src = nullptr;
char* g_message_copy = nullptr;

void forget_message_copy(void*) {
  g_message_src = nullptr;
  g_message_copy = nullptr;
}

// The copy of `query` to hand down.
char* handed_copy(const char* query) {
  if (query == debug_query_string && MessageContext != nullptr) {
    if (g_message_src != query) {
      MemoryContext old = MemoryContextSwitchTo(MessageContext);
      auto* cb = static_cast<MemoryContextCallback*>(palloc0(sizeof(MemoryContextCallback)));
      cb->func = forget_message_copy;
      MemoryContextRegisterResetCallback(MessageContext, cb);
      g_message_copy = pstrdup(query);
      g_message_src = query;
      MemoryContextSwitchTo(old);
    }
    return g_message_copy;
  }
  return pstrdup(query);
}

// The statement text (debug_query_string) that set a key, and when: errors
// reported while it is still the current text are logged without it.
const char* g_key_text = nullptr;
TimestampTz g_key_text_start = 0;

void note_key_in_text(void) {
  g_key_text = debug_query_string;
  g_key_text_start = GetCurrentStatementStartTimestamp();
}

constexpr char kKeyName[] = "qxt.apikey";

bool is_key_setting(const char* name) {
  return name != nullptr && pg_strcasecmp(name, kKeyName) == 0;
}

// What a statement does with the key.
enum class Use { None, Set, AlterSystem, Role, Database, Function };

struct Inspection {
  Use use = Use::None;
  List* sets = nullptr;  // the VariableSetStmts naming qxt.apikey with a value
};

// SET qxt.apikey = value, or FROM CURRENT (which copies the session's value).
bool carries_value(const VariableSetStmt* s) {
  return s != nullptr && is_key_setting(s->name) &&
         (s->kind == VAR_SET_VALUE || s->kind == VAR_SET_CURRENT);
}

void inspect_function_options(List* options, Inspection& in) {
  ListCell* lc;
  foreach (lc, options) {
    DefElem* d = static_cast<DefElem*>(lfirst(lc));
    if (d == nullptr || !IsA(d, DefElem) || d->defname == nullptr ||
        std::strcmp(d->defname, "set") != 0 || d->arg == nullptr || !IsA(d->arg, VariableSetStmt))
      continue;
    VariableSetStmt* s = reinterpret_cast<VariableSetStmt*>(d->arg);
    if (carries_value(s)) {
      in.use = Use::Function;
      in.sets = lappend(in.sets, s);
    }
  }
}

Inspection inspect(Node* tree) {
  Inspection in;
  if (tree == nullptr) return in;
  switch (nodeTag(tree)) {
    case T_VariableSetStmt: {
      VariableSetStmt* s = reinterpret_cast<VariableSetStmt*>(tree);
      if (is_key_setting(s->name) && s->kind == VAR_SET_VALUE) {
        in.use = Use::Set;
        in.sets = lappend(in.sets, s);
      }
      break;
    }
    case T_AlterSystemStmt: {
      VariableSetStmt* s = reinterpret_cast<AlterSystemStmt*>(tree)->setstmt;
      if (carries_value(s)) {
        in.use = Use::AlterSystem;
        in.sets = lappend(in.sets, s);
      }
      break;
    }
    case T_AlterRoleSetStmt: {
      VariableSetStmt* s = reinterpret_cast<AlterRoleSetStmt*>(tree)->setstmt;
      if (carries_value(s)) {
        in.use = Use::Role;
        in.sets = lappend(in.sets, s);
      }
      break;
    }
    case T_AlterDatabaseSetStmt: {
      VariableSetStmt* s = reinterpret_cast<AlterDatabaseSetStmt*>(tree)->setstmt;
      if (carries_value(s)) {
        in.use = Use::Database;
        in.sets = lappend(in.sets, s);
      }
      break;
    }
    case T_CreateFunctionStmt:
      inspect_function_options(reinterpret_cast<CreateFunctionStmt*>(tree)->options, in);
      break;
    case T_AlterFunctionStmt:
      inspect_function_options(reinterpret_cast<AlterFunctionStmt*>(tree)->actions, in);
      break;
    default:
      break;
  }
  return in;
}

// The length of the literal token at `loc` of `text` (a negative number's
// sign included), found with PostgreSQL's own lexer as pg_stat_statements
// does: flex leaves a NUL right after the current token in its buffer.
// The text was parsed already, so lexing it again cannot fail.
int literal_length(const char* text, int loc) {
  core_yy_extra_type yyextra;
  core_YYSTYPE yylval;
  YYLTYPE yylloc;
  core_yyscan_t scanner = scanner_init(text + loc, &yyextra, &ScanKeywords, ScanKeywordTokens);
  yyextra.escape_string_warning = false;
  int len = 0;
  int tok = core_yylex(&yylval, &yylloc, scanner);
  if (tok != 0) {
    len = yylloc + static_cast<int>(std::strlen(yyextra.scanbuf + yylloc));
    if (tok == '-') {
      tok = core_yylex(&yylval, &yylloc, scanner);
      if (tok != 0) len = yylloc + static_cast<int>(std::strlen(yyextra.scanbuf + yylloc));
    }
  }
  scanner_finish(scanner);
  return len;
}

// Overwrites every occurrence of `pat` (n bytes) in `text` with '*'.
bool mask_occurrences(char* text, const char* pat, std::size_t n) {
  if (n == 0) return false;
  bool any = false;
  for (char* p = std::strstr(text, pat); p != nullptr; p = std::strstr(p + n, pat)) {
    std::memset(p, '*', n);
    any = true;
  }
  return any;
}

// Masks `pat` in every text handed down (and in the current message's
// copy, which later statements of the string would be handed).
void mask_handed(const char* pat) {
  const std::size_t n = std::strlen(pat);
  for (Handed* h = g_handed; h != nullptr; h = h->next) mask_occurrences(h->text, pat, n);
  if (g_message_copy != nullptr) mask_occurrences(g_message_copy, pat, n);
}

struct Masked {
  char* text;        // the statement text, same length, values masked
  List* literals;    // the raw literal tokens (palloc'd strings)
};

Masked mask_values(const char* query, List* sets) {
  Masked m{pstrdup(query), nullptr};
  const int qlen = static_cast<int>(std::strlen(query));
  ListCell* lc;
  foreach (lc, sets) {
    VariableSetStmt* s = static_cast<VariableSetStmt*>(lfirst(lc));
    ListCell* ac;
    foreach (ac, s->args) {
      Node* arg = static_cast<Node*>(lfirst(ac));
      if (arg == nullptr || !IsA(arg, A_Const)) continue;
      const int loc = reinterpret_cast<A_Const*>(arg)->location;
      if (loc < 0 || loc >= qlen) continue;
      const int len = literal_length(query, loc);
      if (len <= 0 || loc + len > qlen) continue;
      m.literals = lappend(m.literals, pnstrdup(query + loc, len));
      std::memset(m.text + loc, '*', static_cast<std::size_t>(len));
    }
  }
  return m;
}

// pg_stat_activity shows the text this backend last reported: at the start
// of a statement, debug_query_string (the whole string the client sent,
// maybe several statements; for a statement run by a function or DO block,
// the outer statement).  Every mask is applied to what it shows now, so a
// second SET in the same string, or in the same DO block, never brings back
// a value masked before.
char* current_activity(void) {
  volatile PgBackendStatus* be = MyBEEntry;
  if (be == nullptr || be->st_activity_raw == nullptr || be->st_activity_raw[0] == '\0')
    return nullptr;
  // Only this backend writes its entry, so reading it needs no protocol.
  return pstrdup(const_cast<const char*>(be->st_activity_raw));
}

void report_activity(const char* text) {
  const uint64 qid = pgstat_get_my_query_id();
  pgstat_report_activity(STATE_RUNNING, text);
  if (qid != 0) pgstat_report_query_id(qid, true);
}

void mask_activity(const char* query, const Masked& m) {
  char* shown = current_activity();
  if (shown == nullptr) return;
  bool any = false;
  const std::size_t n = std::strlen(shown);
  // Is it this statement's text (perhaps truncated, perhaps masked already)?
  bool same = debug_query_string != nullptr && std::strcmp(debug_query_string, query) == 0 &&
              n <= std::strlen(query);
  for (std::size_t i = 0; same && i < n; ++i)
    same = shown[i] == query[i] || shown[i] == '*';
  if (same) {
    for (std::size_t i = 0; i < n; ++i)
      if (m.text[i] == '*' && shown[i] != '*') {
        shown[i] = '*';
        any = true;
      }
  } else {
    // A nested statement: mask its literals (and their content without
    // the quotes, as an outer statement may quote them differently)
    // wherever they appear in the outer text.
    ListCell* lc;
    foreach (lc, m.literals) {
      const char* lit = static_cast<const char*>(lfirst(lc));
      any |= mask_occurrences(shown, lit, std::strlen(lit));
      const char* q1 = std::strchr(lit, '\'');
      const char* q2 = std::strrchr(lit, '\'');
      if (q1 != nullptr && q2 > q1 + 1) {
        char* inner = pnstrdup(q1 + 1, q2 - q1 - 1);
        any |= mask_occurrences(shown, inner, std::strlen(inner));
      }
    }
  }
  if (any) report_activity(shown);
}

// The literals of a statement setting the key (and their content without
// the quotes, as an outer statement may quote them differently), masked in
// the texts handed down by the statements around it.
void mask_literals_handed(const Masked& m) {
  ListCell* lc;
  foreach (lc, m.literals) {
    const char* lit = static_cast<const char*>(lfirst(lc));
    mask_handed(lit);
    const char* q1 = std::strchr(lit, '\'');
    const char* q2 = std::strrchr(lit, '\'');
    if (q1 != nullptr && q2 > q1 + 1) mask_handed(pnstrdup(q1 + 1, q2 - q1 - 1));
  }
}

[[noreturn]] void refuse(const Inspection& in) {
  const char* where = "";
  const char* detail = "";
  // No CONTEXT at all, for the client either: PL/pgSQL's would quote the
  // statement, key included.  (Every PG_TRY restores the stack; so does the
  // top-level error recovery.)
  error_context_stack = nullptr;
  switch (in.use) {
    case Use::AlterSystem:
      ereport(ERROR,
              (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
               errmsg("qxt.apikey cannot be set with ALTER SYSTEM"),
               errdetail("ALTER SYSTEM writes the key into postgresql.auto.conf, and PostgreSQL "
                         "shows a configured key to every role in sessions that have not "
                         "loaded qxt_portability; the statement text also reaches "
                         "pg_stat_statements and statement logs."),
               errhint("Put the key in a file that belongs to the server's operating-system "
                       "user with mode 0600, then ALTER SYSTEM SET qxt.apikey_file = "
                       "'/path/to/file' and SELECT pg_reload_conf()."),
               errhidestmt(true), errhidecontext(true)));
      break;
    case Use::Set:
      ereport(ERROR,
              (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
               errmsg("SET qxt.apikey is refused: another library sees statement texts before "
                      "qxt_portability can mask the key"),
               errdetail("A library loaded after qxt_portability (for example "
                         "pg_stat_statements listed after it in shared_preload_libraries) "
                         "would keep the statement, key included."),
               errhint("Use qxt.apikey_file, or list qxt_portability after the other "
                       "libraries in shared_preload_libraries."),
               errhidestmt(true), errhidecontext(true)));
      break;
    case Use::Role:
      where = "a role setting";
      detail = "Role settings are visible to every role in pg_roles.rolconfig and "
               "pg_db_role_setting.";
      break;
    case Use::Database:
      where = "a database setting";
      detail = "Database settings are visible to every role in pg_db_role_setting.";
      break;
    case Use::Function:
      where = "a function or procedure setting";
      detail = "Function settings are visible to every role in pg_proc.proconfig.";
      break;
    case Use::None:
      break;
  }
  ereport(ERROR,
          (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
           errmsg("qxt.apikey cannot be stored as %s", where), errdetail("%s", detail),
           errhint("Put the key in a file that belongs to the server's operating-system user "
                   "with mode 0600 and set qxt.apikey_file to its path (ALTER SYSTEM SET "
                   "qxt.apikey_file = '...', then SELECT pg_reload_conf())."),
           errhidestmt(true), errhidecontext(true)));
  pg_unreachable();
}

void guard_utility(PlannedStmt* pstmt, const char* queryString, bool readOnlyTree,
                   ProcessUtilityContext context, ParamListInfo params,
                   QueryEnvironment* queryEnv, DestReceiver* dest, QueryCompletion* qc) {
  Inspection in = inspect(pstmt->utilityStmt);
  // Outermost means no library installed its hook after ours: nobody has
  // seen the unmasked text through the hook chain.
  const bool outermost = ProcessUtility_hook == guard_utility;
  char* text = nullptr;
  if (in.use != Use::None && queryString != nullptr) {
    Masked m = mask_values(queryString, in.sets);
    mask_activity(queryString, m);
    mask_literals_handed(m);
    note_key_in_text();
    text = m.text;
    if (in.use != Use::Set || !outermost) refuse(in);
  } else if (outermost && queryString != nullptr) {
    text = handed_copy(queryString);
  }
  Handed handed{text, g_handed};
  if (text != nullptr) g_handed = &handed;
  ++g_utility_depth;
  const char* down = text != nullptr ? text : queryString;
  PG_TRY();
  {
    if (g_prev_utility != nullptr)
      g_prev_utility(pstmt, down, readOnlyTree, context, params, queryEnv, dest, qc);
    else
      standard_ProcessUtility(pstmt, down, readOnlyTree, context, params, queryEnv, dest, qc);
  }
  PG_FINALLY();
  {
    --g_utility_depth;
    if (text != nullptr) g_handed = handed.next;
  }
  PG_END_TRY();
}

// Case-insensitive search for the setting's name as a whole word.
const char* find_key_name(const char* s) {
  const std::size_t n = sizeof kKeyName - 1;
  for (const char* p = s; *p; ++p) {
    if (pg_strncasecmp(p, kKeyName, n) != 0) continue;
    const unsigned char next = static_cast<unsigned char>(p[n]);
    if (std::isalnum(next) || next == '_') continue;
    return p;
  }
  return nullptr;
}

// The postmaster logs a reload's changes as `parameter "%s" changed to
// "%s"` with the raw value.  Mask that value in place (no allocation while
// an error is being reported).
void guard_log(ErrorData* edata) {
  // A statement text that set a key is not written as STATEMENT.
  // (nor the CONTEXT, which may quote a statement of it)
  if (edata != nullptr && g_key_text != nullptr && debug_query_string == g_key_text &&
      GetCurrentStatementStartTimestamp() == g_key_text_start) {
    edata->hide_stmt = true;
    edata->hide_ctx = true;
  }
  if (edata != nullptr && edata->message != nullptr && edata->message_id != nullptr &&
      std::strcmp(edata->message_id, "parameter \"%s\" changed to \"%s\"") == 0) {
    const char* name = find_key_name(edata->message);
    if (name != nullptr) {
      char* after = edata->message + (name - edata->message) + (sizeof kKeyName - 1);
      // English: parameter "qxt.apikey" changed to "VALUE": mask between the
      // third quote and the last one.  Any other wording: all after the name.
      char* open = nullptr;
      if (*after == '"') open = std::strchr(after + 1, '"');
      char* last = std::strrchr(edata->message, '"');
      if (open != nullptr && last > open)
        std::memset(open + 1, '*', static_cast<std::size_t>(last - open - 1));
      else if (*after != '\0')
        std::memset(after + 1, '*', std::strlen(after + 1));
    }
  }
  if (g_prev_emit_log != nullptr) g_prev_emit_log(edata);
}

}  // namespace

void qxt_utility_guard_init(void) {
  g_prev_utility = ProcessUtility_hook;
  ProcessUtility_hook = guard_utility;
  g_prev_emit_log = emit_log_hook;
  emit_log_hook = guard_log;
}

void qxt_guard_key_value(const char* value) {
  if (value == nullptr || value[0] == '\0') return;
  mask_handed(value);
  note_key_in_text();
  char* shown = current_activity();
  if (shown != nullptr && mask_occurrences(shown, value, std::strlen(value)))
    report_activity(shown);
  if (g_utility_depth > 0 && ProcessUtility_hook != guard_utility) {
    error_context_stack = nullptr;  // PL/pgSQL's CONTEXT would quote the statement
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("qxt.apikey cannot be set inside this statement: another library has seen "
                    "its text before qxt_portability could mask the key"),
             errdetail("A library loaded after qxt_portability (for example pg_stat_statements "
                       "listed after it in shared_preload_libraries) keeps the text of a DO, "
                       "CALL, EXPLAIN or COPY statement as sent, key included."),
             errhint("Use qxt.apikey_file, or set the key at top level (SELECT set_config(...) "
                     "on its own), or list qxt_portability after the other libraries in "
                     "shared_preload_libraries."),
             errhidestmt(true), errhidecontext(true)));
  }
}
