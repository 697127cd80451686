/*
 * The replay driver: a plain main() that runs every file of the given
 * directories (or the given files) through LLVMFuzzerTestOneInput once.
 * Linked with each fuzz_<parser>.c under any compiler, it turns every seed
 * and every crash ever found into a regression test that needs no clang.
 * Each input is copied into a buffer of exactly its size so that, under
 * AddressSanitizer, a read past the end is caught as libFuzzer would.
 */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/* Read path whole into a malloc'd buffer of exactly its size. */
static int read_file(const char *path, uint8_t **data_r, size_t *size_r)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	uint8_t *data;

	if (fp == NULL)
		return -1;
	if (fstat(fileno(fp), &st) < 0 || st.st_size < 0) {
		fclose(fp);
		return -1;
	}
	/* malloc(0) may return NULL; keep one byte but pass size 0. */
	data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (data == NULL ||
	    fread(data, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
		free(data);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	*data_r = data;
	*size_r = (size_t)st.st_size;
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *data;
	size_t size;

	if (read_file(path, &data, &size) < 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

/* Run every regular file in dir; returns how many, or -1. */
static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
		    (int)sizeof path)
			continue;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(path) < 0) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else
			n = run_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	/* An empty corpus tests nothing: say so rather than pass. */
	if (total == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	printf("replay: %d inputs ok\n", total);
	return 0;
}
