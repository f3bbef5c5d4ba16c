// calls is the guest of cmd/wazix-cmpbench: one host call in a loop, chosen
// by argv[1], run N times (argv[2]), so that the same module measures the
// start-up of a runtime (mode "empty") and the cost of each call under any
// preview1 host. Build: clang --target=wasm32-wasi -O2 -o calls.wasm calls.c
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "empty";
	long n = argc > 2 ? atol(argv[2]) : 0;
	long sink = 0;
	if (strcmp(mode, "empty") == 0) {
		return 0;
	} else if (strcmp(mode, "clock") == 0) {
		struct timespec ts;
		for (long i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
	} else if (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0) {
		// One-byte writes to a file in the preopened directory (argv[3]),
		// then, for "read", one-byte reads of it.
		const char *path = argc > 3 ? argv[3] : "/tmp/calls.dat";
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		long writes = strcmp(mode, "write") == 0 ? n : 1;
		for (long i = 0; i < writes; i++) {
			if (write(fd, "x", 1) != 1) {
				perror("write");
				return 1;
			}
		}
		if (strcmp(mode, "read") == 0) {
			char c;
			for (long i = 0; i < n; i++) {
				if (pread(fd, &c, 1, 0) != 1) {
					perror("pread");
					return 1;
				}
				sink += c;
			}
		}
		close(fd);
		unlink(path);
	} else if (strcmp(mode, "stdout") == 0) {
		// One-byte writes to stdout (a pipe under wazix-cmpbench).
		for (long i = 0; i < n; i++) {
			if (write(1, "x", 1) != 1) {
				perror("write");
				return 1;
			}
		}
	} else if (strcmp(mode, "poll") == 0) {
		// poll(NULL, 0, 0): poll_oneoff with one clock that is due.
		for (long i = 0; i < n; i++)
			sink += poll(NULL, 0, 0);
	} else if (strcmp(mode, "open") == 0) {
		const char *path = argc > 3 ? argv[3] : "/tmp/calls.dat";
		close(open(path, O_RDWR | O_CREAT, 0644));
		for (long i = 0; i < n; i++) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				perror(path);
				return 1;
			}
			close(fd);
		}
		unlink(path);
	} else if (strcmp(mode, "random") == 0) {
		unsigned char buf[16];
		for (long i = 0; i < n; i++) {
			arc4random_buf(buf, sizeof buf);
			sink += buf[0];
		}
	} else {
		fprintf(stderr, "calls: unknown mode %s\n", mode);
		return 2;
	}
	return sink == 42 ? 3 : 0; // keep the loop's work observable
}
