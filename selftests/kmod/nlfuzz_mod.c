// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and unloading qkd.ko for qkd_nlfuzz, and the reload loop that
 * runs beside the fuzzing threads.  finit_module()/delete_module()
 * directly: forking insmod/rmmod takes tens of milliseconds under TCG.
 *
 * fz_load_gen is odd while the module is being unloaded and reloaded:
 * workers then close their sockets (a dump left unread holds a module
 * reference) and try to resolve the family, which answers ENOENT until
 * the module is back; an even value they have not resolved in yet makes
 * them resolve again (the family id changes with every registration).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nlfuzz.h"

volatile unsigned int fz_load_gen;

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool fz_mod_loaded(void)
{
	return access("/sys/module/qkd/initstate", F_OK) == 0;
}

int fz_mod_load(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		err = errno == EEXIST ? 0 : -errno;
	close(fd);
	return err;
}

/* 0 when gone (or never there); -EBUSY if still in use at the timeout. */
int fz_mod_unload(unsigned int timeout_ms)
{
	unsigned int waited = 0;

	for (;;) {
		if (!syscall(SYS_delete_module, "qkd", O_NONBLOCK))
			return 0;
		if (errno == ENOENT)
			return 0;
		if (errno != EWOULDBLOCK && errno != EAGAIN && errno != EBUSY)
			return -errno;
		if (waited >= timeout_ms)
			return -EBUSY;
		sleep_ms(1);
		waited++;
	}
}

void *fz_reload_thread(void *arg)
{
	struct fz_reload *rl = arg;
	struct timespec t0, t1;
	int err, tries;

	while (!rl->stop) {
		sleep_ms(rl->period_ms);
		if (rl->stop)
			break;
		__atomic_add_fetch(&fz_load_gen, 1, __ATOMIC_SEQ_CST);	/* odd */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = fz_mod_unload(500);
		if (err) {
			rl->busy++;
		} else {
			for (tries = 0; (err = fz_mod_load(rl->ko)) && tries < 20;
			     tries++)
				sleep_ms(10);
			if (err) {
				fprintf(stderr, "nlfuzz: reload: insmod: %s\n",
					strerror(-err));
				rl->failed++;
				rl->stop = true;
			} else {
				rl->reloads++;
				clock_gettime(CLOCK_MONOTONIC, &t1);
				rl->away_ms += (t1.tv_sec - t0.tv_sec) * 1000 +
					       (t1.tv_nsec - t0.tv_nsec) / 1000000;
			}
		}
		__atomic_add_fetch(&fz_load_gen, 1, __ATOMIC_SEQ_CST);	/* even */
	}
	return NULL;
}
