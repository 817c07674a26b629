/* check_s3xml.c - unit tests for the XML reader of the S3 client (plugins/store-s3/s3xml.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"

static const char list_reply[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
        "<IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<Contents><Key>p/a&amp;b &lt;1&gt;</Key><Size>12</Size>"
        "<ETag>&quot;0123&quot;</ETag><Owner><ID>x</ID></Owner></Contents>"
        "<!-- a comment with <Key>not this</Key> -->"
        "<Contents><Key><![CDATA[p/<c>]]></Key><Size>0</Size><ETag/></Contents>"
        "<CommonPrefixes><Prefix>p/sub/</Prefix></CommonPrefixes>"
        "</ListBucketResult>\n";

START_TEST(test_xml_listing)
{
	char name[64], text[256];
	struct s3xml_span in, e;
	ck_assert_int_eq(s3xml_root(list_reply, strlen(list_reply), name, sizeof(name), &in), 0);
	ck_assert_str_eq(name, "ListBucketResult");
	ck_assert_int_eq(s3xml_child_text(&in, "IsTruncated", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "true");
	ck_assert_int_eq(s3xml_child_text(&in, "NextContinuationToken", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	size_t pos = 0;
	ck_assert_int_eq(s3xml_next(&in, "Contents", &pos, &e), 1);
	ck_assert_int_eq(s3xml_child_text(&e, "Key", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "p/a&b <1>");
	ck_assert_int_eq(s3xml_child_text(&e, "ETag", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "\"0123\"");
	/* Only direct children: <ID> is inside <Owner>. */
	ck_assert_int_eq(s3xml_child_text(&e, "ID", text, sizeof(text)), 1);
	ck_assert_int_eq(s3xml_next(&in, "Contents", &pos, &e), 1);
	ck_assert_int_eq(s3xml_child_text(&e, "Key", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "p/<c>");
	ck_assert_int_eq(s3xml_child_text(&e, "ETag", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(s3xml_next(&in, "Contents", &pos, &e), 0);
	pos = 0;
	ck_assert_int_eq(s3xml_next(&in, "CommonPrefixes", &pos, &e), 1);
	ck_assert_int_eq(s3xml_child_text(&e, "Prefix", text, sizeof(text)), 0);
	ck_assert_str_eq(text, "p/sub/");
	/* An element with children has no text of its own. */
	pos = 0;
	ck_assert_int_eq(s3xml_next(&in, "Contents", &pos, &e), 1);
	ck_assert_int_eq(s3xml_text(&e, text, sizeof(text)), -1);
}
END_TEST

START_TEST(test_xml_error_reply)
{
	/* radosgw's: an empty <Message>. */
	static const char doc[] =
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch"
	        "</Code><Message></Message><RequestId>tx0-1</RequestId></Error>";
	char name[16], code[64], msg[64];
	struct s3xml_span in;
	ck_assert_int_eq(s3xml_root(doc, strlen(doc), name, sizeof(name), &in), 0);
	ck_assert_str_eq(name, "Error");
	ck_assert_int_eq(s3xml_child_text(&in, "Code", code, sizeof(code)), 0);
	ck_assert_str_eq(code, "SignatureDoesNotMatch");
	ck_assert_int_eq(s3xml_child_text(&in, "Message", msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
	/* A self-closing root, attributes with '>' and '/' in quotes. */
	static const char empty[] = "<InitiateMultipartUploadResult a=\"x>/y\" b='2'/>";
	ck_assert_int_eq(s3xml_root(empty, strlen(empty), name, sizeof(name), &in),
	                 -1); /* name too long */
	char big[64];
	ck_assert_int_eq(s3xml_root(empty, strlen(empty), big, sizeof(big), &in), 0);
	ck_assert_str_eq(big, "InitiateMultipartUploadResult");
	ck_assert_uint_eq(in.len, 0);
}
END_TEST

START_TEST(test_xml_entities)
{
	static const char doc[] = "<K>&#65;&#x42;&#xe9;&#x20AC;&#x1F600;&quot;&apos;</K>";
	char name[8], text[32];
	struct s3xml_span in;
	ck_assert_int_eq(s3xml_root(doc, strlen(doc), name, sizeof(name), &in), 0);
	ck_assert_int_eq(s3xml_text(&in, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "AB\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"'");
	/* Text that does not fit is an error, not a cut. */
	ck_assert_int_eq(s3xml_text(&in, text, 5), -1);
	ck_assert_str_eq(text, "");
	static const char *const bad[] = {"<K>&#0;</K>", "<K>&#xD800;</K>",   "<K>&bogus;</K>",
	                                  "<K>&amp</K>", "<K>&#x110000;</K>", "<K>&#;</K>"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(s3xml_root(bad[i], strlen(bad[i]), name, sizeof(name), &in), 0);
		ck_assert_msg(s3xml_text(&in, text, sizeof(text)) == -1, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(test_xml_malformed)
{
	static const char *const bad[] = {
	        "",
	        "text only",
	        "<A>",
	        "<A><B></A>",
	        "<A></B>",
	        "<A><B></B>",
	        "<A></A><B></B>",
	        "<A></A>trailing",
	        "<!DOCTYPE A [<!ENTITY e \"x\">]><A>&e;</A>",
	        "<A x=\"unterminated></A>",
	        "<A><!-- unterminated </A>",
	        "<A><![CDATA[ unterminated </A>",
	        "<A><></A>",
	        "<A/ >",
	        "</A>",
	};
	char name[8];
	struct s3xml_span in;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(s3xml_root(bad[i], strlen(bad[i]), name, sizeof(name), &in) == -1,
		              "accepted \"%s\"", bad[i]);
	/* Deeper than S3XML_DEPTH_MAX inside the root. */
	char deep[2048];
	size_t at = 0;
	at += (size_t)snprintf(deep + at, sizeof(deep) - at, "<R>");
	for (int i = 0; i <= S3XML_DEPTH_MAX; i++)
		at += (size_t)snprintf(deep + at, sizeof(deep) - at, "<d>");
	for (int i = 0; i <= S3XML_DEPTH_MAX; i++)
		at += (size_t)snprintf(deep + at, sizeof(deep) - at, "</d>");
	at += (size_t)snprintf(deep + at, sizeof(deep) - at, "</R>");
	ck_assert_uint_lt(at, sizeof(deep));
	ck_assert_int_eq(s3xml_root(deep, strlen(deep), name, sizeof(name), &in), -1);
	/* A child that is malformed inside a well-formed looking span. */
	static const char odd[] = "<R><A>x</A></R>";
	ck_assert_int_eq(s3xml_root(odd, strlen(odd), name, sizeof(name), &in), 0);
	struct s3xml_span cut = {in.p, in.len - 2}, e;
	size_t pos = 0;
	ck_assert_int_eq(s3xml_next(&cut, "A", &pos, &e), -1);
	/* Prolog and trailing comments are fine. */
	static const char ok[] =
	        "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- c --><R/>\n<!-- d -->\n";
	ck_assert_int_eq(s3xml_root(ok, strlen(ok), name, sizeof(name), &in), 0);
}
END_TEST

static Suite *s3xml_suite(void)
{
	Suite *s = suite_create("store-s3 xml");
	TCase *x = tcase_create("xml");
	tcase_add_test(x, test_xml_listing);
	tcase_add_test(x, test_xml_error_reply);
	tcase_add_test(x, test_xml_entities);
	tcase_add_test(x, test_xml_malformed);
	suite_add_tcase(s, x);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(s3xml_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
