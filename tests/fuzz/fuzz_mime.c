/*
 * Fuzz the MIME parser (storage/mime.c, mime_addr.c, mime_write.c).
 * Beyond "no crash": every part's header and body tile the part exactly,
 * every child lies inside its parent's body and after its previous
 * sibling, the part count stays within MIME_PARTS_MAX and the depth within
 * MIME_DEPTH_MAX, and the IMAP writers produce balanced output.
 */
#include "fuzz.h"

#include <string.h>

#include "mime.h"
#include "util.h"

static void check_part(const struct mime_part *p, size_t len, int depth)
{
	size_t prev_end = p->body_off;

	FUZZ_CHECK(depth <= MIME_DEPTH_MAX + 1);
	FUZZ_CHECK(p->part_off <= len && p->part_len <= len - p->part_off);
	FUZZ_CHECK(p->hdr_off == p->part_off);
	FUZZ_CHECK(p->body_off == p->hdr_off + p->hdr_len);
	FUZZ_CHECK(p->hdr_len + p->body_len == p->part_len);
	FUZZ_CHECK(p->type != NULL && p->subtype != NULL &&
	           p->encoding != NULL);
	FUZZ_CHECK(strcmp(p->type, "multipart") != 0 || p->child_count > 0 ||
	           (p->flags & MIME_PART_DEGRADED) == 0);
	for (size_t i = 0; i < p->child_count; i++) {
		const struct mime_part *c = p->children[i];

		FUZZ_CHECK(c->part_off >= prev_end);
		FUZZ_CHECK(c->part_off + c->part_len <=
		           p->body_off + p->body_len);
		prev_end = c->part_off + c->part_len;
		check_part(c, len, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mime_part *root = NULL;
	struct po_buf out = PO_BUF_INIT;

	FUZZ_CHECK(mime_parse(msg, size, &root) == 0 && root != NULL);
	check_part(root, size, 0);
	FUZZ_CHECK(mime_part_count(root) <= MIME_PARTS_MAX);
	FUZZ_CHECK(root->env != NULL);
	mime_write_bodystructure(&out, root, true);
	FUZZ_CHECK(out.len >= 2 && out.data[0] == '(' &&
	           out.data[out.len - 1] == ')');
	po_buf_reset(&out);
	mime_write_envelope(&out, root->env);
	FUZZ_CHECK(out.len >= 2 && out.data[0] == '(');
	po_buf_reset(&out);
	(void)mime_header_get(msg, root->hdr_off, root->hdr_len, "Subject",
	                      &out);
	FUZZ_CHECK(out.len <= MIME_FIELD_MAX);
	po_buf_deinit(&out);
	mime_free(&root);
	return 0;
}
