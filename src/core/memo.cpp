#include "memo.hpp"

#include "normalize.hpp"

namespace qxt {

std::uint64_t fingerprint(std::string_view base_url, std::string_view apikey) {
  // FNV-1a over both, separated: only equality matters.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  mix(base_url);
  mix(apikey);
  return h;
}

void StatementMemo::enter(const StatementId& id) {
  if (id == id_) return;
  const bool same_statement =
      id.statement_start == id_.statement_start && id.local_xid == id_.local_xid;
  if (!same_statement) {
    // Another statement: forget every fingerprint's answers (the map is
    // rebuilt, so that a large statement's memory goes back).
    std::unordered_map<std::uint64_t, Entries>().swap(by_settings_);
    total_ = 0;
  }
  id_ = id;
  entries_ = &by_settings_[id.settings_fingerprint];
}

const CarrierRecord* StatementMemo::find(std::uint64_t key) const {
  auto it = entries_->find(key);
  if (it == entries_->end()) return nullptr;
  return &it->second;
}

void StatementMemo::put(std::uint64_t key, const CarrierRecord& r) {
  if (!memorable(r.code) || total_ >= kMaxEntries) return;
  if (entries_->insert_or_assign(key, r).second) ++total_;
}

void StatementMemo::put_all(const BatchJob& job) {
  if (job.distinct() > kMaxBatchForMemo) return;
  job.for_each_sent_answer([&](std::uint64_t key, const CompactResult& c) {
    CarrierRecord r;
    r.code = c.code;
    r.res = c.res;
    r.mobile = key_to_mobile(key);
    r.area = std::string(job.text(c.area));
    r.init_isp = std::string(job.text(c.init_isp));
    r.now_isp = std::string(job.text(c.now_isp));
    put(key, r);
  });
}

}  // namespace qxt
