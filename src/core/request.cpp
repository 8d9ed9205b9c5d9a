#include "request.hpp"

#include "normalize.hpp"

namespace qxt {

namespace {

void append_form_escaped(std::string& out, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

void append_json_escaped(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

}  // namespace

std::string form_escaped(std::string_view s) {
  std::string out;
  append_form_escaped(out, s);
  return out;
}

std::string json_escaped(std::string_view s) {
  std::string out;
  append_json_escaped(out, s);
  return out;
}

std::string form_body(std::string_view apikey, std::string_view mobile) {
  std::string out;
  out.reserve(16 + apikey.size() * 3 + mobile.size());
  out += "apikey=";
  append_form_escaped(out, apikey);
  if (!mobile.empty()) {
    out += "&mobile=";
    append_form_escaped(out, mobile);
  }
  return out;
}

std::string batch_body(std::string_view apikey, const std::uint64_t* keys, std::size_t n) {
  std::string out;
  out.reserve(40 + apikey.size() + n * 14);
  out += "{\"ApiKey\":\"";
  append_json_escaped(out, apikey);
  out += "\",\"PhoneNumbers\":[";
  char digits[kMobileDigits];
  for (std::size_t i = 0; i < n; ++i) {
    key_to_digits(keys[i], digits);
    if (i) out += ',';
    out += '"';
    out.append(digits, kMobileDigits);
    out += '"';
  }
  out += "]}";
  return out;
}

}  // namespace qxt
