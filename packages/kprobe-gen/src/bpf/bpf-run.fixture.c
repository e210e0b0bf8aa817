// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for bpf-load.kernel.test.ts (not tw's loader, which lives in the addon): opens a
 * generated BPF object with libbpf, sets .rodata params, loads it, attaches every program,
 * runs a command, and writes the records of the ring buffer tw_events to a file, each as
 * u32 size (little endian) + the record. Prints one JSON line: its own pid, the child's pid and
 * exit status, the records seen and the sum of tw_lost over the CPUs. Everything is detached when it exits.
 *
 *	bpf-run OBJ OUT [-r NAME=INT]... -- CMD [ARG]...
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static FILE *out;
static long records;

static int on_record(void *ctx, void *data, size_t size)
{
	unsigned int n = (unsigned int)size;

	(void)ctx;
	fwrite(&n, sizeof(n), 1, out);
	fwrite(data, 1, size, out);
	records++;
	return 0;
}

/* sets a .rodata variable (an integer of 1, 2, 4 or 8 bytes) before load */
static int set_rodata(struct bpf_object *obj, const char *name, long long value)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, ".rodata");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	size_t size;
	char *data;
	int id, i;

	if (!map || !btf)
		return -ENOENT;
	data = (char *)bpf_map__initial_value(map, &size);	/* libbpf 1.1 returns const; the mmap-ed .rodata is writable before load */
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!data || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
			continue;
		if (vs->offset + vs->size > size || vs->size > 8)
			return -EINVAL;
		memcpy(data + vs->offset, &value, vs->size); /* little endian */
		return 0;
	}
	return -ENOENT;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct ring_buffer *rb;
	struct bpf_link *links[8];
	int nlinks = 0, i, status, ncpu, lost_fd;
	unsigned int zero = 0;
	unsigned long long lost = 0, *percpu;
	pid_t child;

	if (argc < 5) {
		fprintf(stderr, "usage: %s OBJ OUT [-r NAME=INT]... -- CMD [ARG]...\n", argv[0]);
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 3; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *eq;

		if (strcmp(argv[i], "-r") != 0 || i + 1 >= argc || !(eq = strchr(argv[i + 1], '='))) {
			fprintf(stderr, "bad option %s\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		if (set_rodata(obj, argv[i + 1], strtoll(eq + 1, NULL, 0))) {
			fprintf(stderr, "no .rodata variable %s\n", argv[i + 1]);
			return 1;
		}
		i++;
	}
	if (i >= argc - 1) {
		fprintf(stderr, "no command after --\n");
		return 2;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s failed\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (nlinks == 8)
			break;
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			fprintf(stderr, "attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
		nlinks++;
	}
	out = fopen(argv[2], "wb");
	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "tw_events"), on_record, NULL, NULL);
	if (!out || !rb) {
		fprintf(stderr, "ring buffer or output file: %s\n", strerror(errno));
		return 1;
	}
	child = fork();
	if (child == 0) {
		execvp(argv[i + 1], argv + i + 1);
		_exit(127);
	}
	while (waitpid(child, &status, WNOHANG) == 0)
		ring_buffer__poll(rb, 50);
	ring_buffer__consume(rb);
	ncpu = libbpf_num_possible_cpus();
	percpu = calloc(ncpu, sizeof(*percpu));
	lost_fd = bpf_object__find_map_fd_by_name(obj, "tw_lost");
	if (percpu && !bpf_map_lookup_elem(lost_fd, &zero, percpu))
		for (i = 0; i < ncpu; i++)
			lost += percpu[i];
	fclose(out);
	printf("{\"runner\":%d,\"child\":%d,\"status\":%d,\"records\":%ld,\"lost\":%llu}\n", (int)getpid(), (int)child,
	       WEXITSTATUS(status), records, lost);
	ring_buffer__free(rb);
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;
}
