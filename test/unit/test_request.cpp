// Request bodies: the key only ever in the body, properly escaped.
#include <gtest/gtest.h>

#include "normalize.hpp"
#include "request.hpp"

using namespace qxt;

TEST(Request, FormBodyForSingleLookupAndBalance) {
  EXPECT_EQ(form_body("0123456789abcdef0123456789abcdef", "13972565391"),
            "apikey=0123456789abcdef0123456789abcdef&mobile=13972565391");
  EXPECT_EQ(form_body("0123456789abcdef0123456789abcdef", ""),
            "apikey=0123456789abcdef0123456789abcdef");
}

TEST(Request, FormBodyEscapesEverythingUnsafe) {
  EXPECT_EQ(form_body("a b&c=d+e%/\xE4", ""), "apikey=a%20b%26c%3Dd%2Be%25%2F%E4");
}

TEST(Request, BatchBodyIsTheDocumentedJson) {
  std::uint64_t keys[] = {mobile_to_key("13798361236"), mobile_to_key("13352918995"),
                          mobile_to_key("13163320753")};
  EXPECT_EQ(batch_body("D32652658B074228A2854A78E56880B1", keys, 3),
            "{\"ApiKey\":\"D32652658B074228A2854A78E56880B1\",\"PhoneNumbers\":"
            "[\"13798361236\",\"13352918995\",\"13163320753\"]}");
}

TEST(Request, BatchBodyEscapesTheKey) {
  std::uint64_t k = mobile_to_key("13972565391");
  EXPECT_EQ(batch_body("a\"b\\c\n", &k, 1),
            "{\"ApiKey\":\"a\\\"b\\\\c\\u000a\",\"PhoneNumbers\":[\"13972565391\"]}");
  EXPECT_EQ(batch_body("k", nullptr, 0), "{\"ApiKey\":\"k\",\"PhoneNumbers\":[]}");
}
