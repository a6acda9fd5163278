/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Golden tests for the LXC profiles, plus checks that liblxc accepts every key.
 * REDWAY_UPDATE_GOLDEN=1 rewrites the golden .conf files from the current output. */
#include "config.h"

#include "test-tmpdir.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <lxc/lxccontainer.h>

#include "host.h"
#include "profiles/profile.h"

#define GOLDEN_DIR TEST_SRCDIR "/golden"

typedef struct {
  RwImageConfig image;
  RwRedroidOptions redroid;
  RwHostFacts host;
  RwContainerSpec spec;
} Fixture;

static void
fixture_init (Fixture *f)
{
  memset (f, 0, sizeof *f);
  f->spec.name = "rw1";
  f->spec.lxcpath = "/var/lib/redway/lxc";
  f->spec.rootfs_lower = "/var/lib/redway/images/sha256-0123/rootfs";
  f->spec.rootfs_upper = "/var/lib/redway/containers/rw1/upper";
  f->spec.data_path = "/var/lib/redway/containers/rw1/data";
  f->spec.log_path = "/var/log/redway/rw1.log";
  f->spec.console_log_path = "/var/log/redway/rw1.console";
  f->spec.image_config = &f->image;
  f->spec.bridge = "redway0";
  f->spec.ipv4_cidr = "10.0.3.17/24";
  f->spec.ipv4_gateway = "10.0.3.1";
  f->spec.mac = "02:52:57:00:00:11";
  /* Like this project's CI hosts: LXC 5 with a cgroup v1 devices controller. */
  f->host.devices_cgroup_v1 = TRUE;
  f->host.lxc_cgroup_keys = TRUE;
  f->spec.host = &f->host;
}

static RwLxcConfig *
generate (const gchar *profile, Fixture *f, GError **error)
{
  if (g_str_equal (profile, "redroid"))
    {
      f->spec.redroid = &f->redroid;
      return rw_profile_redroid (&f->spec, error);
    }
  return rw_profile_generic (&f->spec, error);
}

/* Every generated config must be loadable by the real liblxc. */
static void
assert_lxc_accepts (const RwLxcConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *lxcpath = g_dir_make_tmp ("rw-profile-XXXXXX", &error);
  struct lxc_container *c;

  g_assert_no_error (error);
  c = lxc_container_new ("golden", lxcpath);
  g_assert_nonnull (c);
  for (guint i = 0; i < config->keys->len; i++)
    {
      const gchar *key = g_ptr_array_index (config->keys, i);
      const gchar *value = g_ptr_array_index (config->values, i);

      if (!c->set_config_item (c, key, value))
        g_error ("liblxc rejected %s = %s", key, value);
    }
  lxc_container_put (c);
  g_assert_no_errno (g_rmdir (lxcpath));
}

static void
check_golden (const gchar *profile, Fixture *f, const gchar *golden)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RwLxcConfig) config = generate (profile, f, &error);
  g_autofree gchar *path = g_strdup_printf ("%s/%s.conf", GOLDEN_DIR, golden);
  g_autofree gchar *out = NULL;
  g_autofree gchar *expected = NULL;
  g_autoptr (GString) normalized = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (config);
  out = rw_lxc_config_to_string (config);
  /* Golden files must not depend on where the source tree lives. */
  normalized = g_string_new (out);
  g_string_replace (normalized, GOLDEN_DIR, "@GOLDEN_DIR@", 0);

  if (g_getenv ("REDWAY_UPDATE_GOLDEN") != NULL)
    {
      g_file_set_contents (path, normalized->str, -1, &error);
      g_assert_no_error (error);
    }
  g_file_get_contents (path, &expected, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (normalized->str, ==, expected);

  /* A liblxc without lxc.cgroup.* (LXC 7) must not be handed one. */
  if (f->spec.host == NULL || !f->spec.host->lxc_cgroup_keys)
    for (guint i = 0; i < config->keys->len; i++)
      g_assert_false (g_str_has_prefix (g_ptr_array_index (config->keys, i), "lxc.cgroup."));
  assert_lxc_accepts (config);
}

static void
check_rejected (const gchar *profile, Fixture *f, const gchar *why)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RwLxcConfig) config = generate (profile, f, &error);

  if (config != NULL)
    {
      g_autofree gchar *s = rw_lxc_config_to_string (config);
      g_error ("%s: accepted:\n%s", why, s);
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s: %s", why, error->message);
}

/* ---- redroid ---- */

static void
test_redroid_golden (void)
{
  Fixture f;
  gchar *dns[] = { (gchar *) "8.8.8.8", (gchar *) "2001:4860:4860::8888", NULL };

  fixture_init (&f);
  check_golden ("redroid", &f, "redroid-defaults");

  fixture_init (&f);
  f.redroid.width = 1080, f.redroid.height = 1920, f.redroid.dpi = 480, f.redroid.fps = 60;
  check_golden ("redroid", &f, "redroid-size");

  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "host";
  f.redroid.gpu_node = (gchar *) "/dev/dri/renderD128";
  check_golden ("redroid", &f, "redroid-gpu-host");

  /* The same on a unified cgroup2 host with LXC 5, and with LXC 7 (which
   * rejects lxc.cgroup.*): no device rules at all (see allow_device()). */
  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "host";
  f.redroid.gpu_node = (gchar *) "/dev/dri/renderD129";
  f.host.devices_cgroup_v1 = FALSE;
  check_golden ("redroid", &f, "redroid-gpu-host-cgroup2");
  f.host.lxc_cgroup_keys = FALSE;
  check_golden ("redroid", &f, "redroid-gpu-host-lxc7");
  /* LXC 7 on a hybrid layout: still no lxc.cgroup.* key. */
  f.host.devices_cgroup_v1 = TRUE;
  check_golden ("redroid", &f, "redroid-gpu-host-lxc7");

  /* Nothing known about the host (the facts were not passed): no rules, no ashmem. */
  fixture_init (&f);
  f.spec.host = NULL;
  check_golden ("redroid", &f, "redroid-host-unknown");

  fixture_init (&f);
  f.host.ashmem = TRUE;
  check_golden ("redroid", &f, "redroid-ashmem");

  {
    gchar *video[] = { (gchar *) "/dev/video0", (gchar *) "/dev/video12", NULL };

    fixture_init (&f);
    f.redroid.video_devices = video;
    f.redroid.gpu_mode = (gchar *) "auto";
    f.redroid.gpu_node = (gchar *) "/dev/dri/renderD128";
    check_golden ("redroid", &f, "redroid-video");
  }

  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "guest";
  check_golden ("redroid", &f, "redroid-gpu-guest");

  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "auto";
  check_golden ("redroid", &f, "redroid-gpu-auto");

  fixture_init (&f);
  f.redroid.dns = dns;
  check_golden ("redroid", &f, "redroid-dns");

  fixture_init (&f);
  f.redroid.proxy_type = (gchar *) "static";
  f.redroid.proxy_host = (gchar *) "proxy.example.com";
  f.redroid.proxy_port = (gchar *) "3128";
  f.redroid.proxy_exclude_list = (gchar *) "localhost,*.example.com";
  f.redroid.proxy_pac = (gchar *) "http://proxy.example.com/proxy.pac";
  check_golden ("redroid", &f, "redroid-proxy");

  fixture_init (&f);
  f.spec.bridge = f.spec.ipv4_cidr = f.spec.ipv4_gateway = f.spec.mac = NULL;
  check_golden ("redroid", &f, "redroid-no-network");

  {
    gchar *params[] = { (gchar *) "androidboot.redroid_fake_wifi=1", (gchar *) "ro.product.model=Pixel-7",
                        (gchar *) "ro.setupwizard.mode=DISABLED", NULL };

    fixture_init (&f);
    f.redroid.boot_params = params;
    check_golden ("redroid", &f, "redroid-boot-params");
  }

  /* A clone: /data an overlay of its data dir over the frozen layers' data. */
  fixture_init (&f);
  f.spec.rootfs_layers = "/var/lib/redway/layers/00000000000000a1/upper";
  f.spec.data_layers = "/var/lib/redway/layers/00000000000000a1/data";
  f.spec.data_work = "/var/lib/redway/containers/rw1/data-work";
  check_golden ("redroid", &f, "redroid-layers");
  f.spec.data_work = "/var/lib/redway/containers/rw1/data work";
  check_rejected ("redroid", &f, "a data work dir with a blank");
}

static void
test_redroid_rejects (void)
{
  Fixture f;
  gchar *dns_inject[] = { (gchar *) "8.8.8.8 androidboot.redroid_gpu_mode=host", NULL };
  gchar *dns_name[] = { (gchar *) "dns.google", NULL };
  gchar *dns_short[] = { (gchar *) "1.2.3", NULL };
  gchar *dns_nl[] = { (gchar *) "8.8.8.8\nlxc.mount.entry = / host none bind 0 0", NULL };
  gchar *dns_many[] = { (gchar *) "1.1.1.1", (gchar *) "1.1.1.2", (gchar *) "1.1.1.3",
                        (gchar *) "1.1.1.4", (gchar *) "1.1.1.5", NULL };
  const gchar *nl = "x\nlxc.mount.entry = / host none bind 0 0";
  gchar **strings[] = {
    &f.redroid.gpu_mode, &f.redroid.gpu_node, &f.redroid.proxy_type, &f.redroid.proxy_host,
    &f.redroid.proxy_port, &f.redroid.proxy_exclude_list, &f.redroid.proxy_pac,
  };

  /* Extra boot parameters: only androidboot.* / ro.*, never one redway
   * derives from its settings, never a second word. */
  {
    const gchar *bad[] = {
      "ro.x=a b", "ro.x=a\nlxc.mount.entry = / host none bind 0 0", "init=/bin/sh", "androidboot.=1",
      "androidboot.redroid_gpu_mode=host", "androidboot.redroid_net_dns1=1.1.1.1", "androidboot.hardware=x",
      "androidboot.use_memfd=0", "ro.x y=1", "ro.x\"=1", "ro.x=", "ro.x",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        gchar *params[] = { (gchar *) bad[i], NULL };

        fixture_init (&f);
        f.redroid.boot_params = params;
        check_rejected ("redroid", &f, bad[i]);
      }
  }

  /* Newline injection in every string option. */
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      fixture_init (&f);
      *strings[i] = (gchar *) nl;
      check_rejected ("redroid", &f, "newline in option");
    }
  /* Parameter injection through spaces or quotes. */
  fixture_init (&f);
  f.redroid.proxy_host = (gchar *) "h androidboot.redroid_gpu_mode=host";
  check_rejected ("redroid", &f, "space in proxy host");
  fixture_init (&f);
  f.redroid.proxy_pac = (gchar *) "http://x/\"a";
  check_rejected ("redroid", &f, "quote in pac");
  fixture_init (&f);
  f.redroid.proxy_type = (gchar *) "";
  check_rejected ("redroid", &f, "empty proxy type");

  fixture_init (&f);
  f.redroid.dns = dns_inject;
  check_rejected ("redroid", &f, "dns injection");
  fixture_init (&f);
  f.redroid.dns = dns_name;
  check_rejected ("redroid", &f, "dns name");
  fixture_init (&f);
  f.redroid.dns = dns_short;
  check_rejected ("redroid", &f, "dns short");
  fixture_init (&f);
  f.redroid.dns = dns_nl;
  check_rejected ("redroid", &f, "dns newline");
  fixture_init (&f);
  f.redroid.dns = dns_many;
  check_rejected ("redroid", &f, "too many dns");

  fixture_init (&f);
  f.redroid.width = 10;
  check_rejected ("redroid", &f, "width too small");
  fixture_init (&f);
  f.redroid.height = 100000;
  check_rejected ("redroid", &f, "height too big");
  fixture_init (&f);
  f.redroid.dpi = 5000;
  check_rejected ("redroid", &f, "dpi too big");
  fixture_init (&f);
  f.redroid.fps = 1000;
  check_rejected ("redroid", &f, "fps too big");
  fixture_init (&f);
  f.redroid.proxy_port = (gchar *) "99999";
  check_rejected ("redroid", &f, "port out of range");
  fixture_init (&f);
  f.redroid.proxy_port = (gchar *) "80x";
  check_rejected ("redroid", &f, "port not a number");
  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "nvidia";
  check_rejected ("redroid", &f, "gpu mode");
  fixture_init (&f);
  f.redroid.gpu_node = (gchar *) "/dev/dri/../sda";
  check_rejected ("redroid", &f, "gpu node escape");
  fixture_init (&f);
  f.redroid.gpu_node = (gchar *) "/dev/dri/";
  check_rejected ("redroid", &f, "gpu node without a name");
  fixture_init (&f);
  f.redroid.gpu_mode = (gchar *) "host";
  check_rejected ("redroid", &f, "host gpu mode without a render node");
  {
    const gchar *bad[] = { "/dev/sda", "/dev/video", "/dev/video0/../sda", "/dev/video1 x",
                           "/dev/videox", "/dev/video123456", NULL };

    for (guint i = 0; bad[i] != NULL; i++)
      {
        gchar *video[] = { (gchar *) bad[i], NULL };

        fixture_init (&f);
        f.redroid.video_devices = video;
        check_rejected ("redroid", &f, bad[i]);
      }
  }

  /* Spec fields shared with generic. */
  fixture_init (&f);
  f.spec.data_path = "/data/x\nlxc.mount.entry = / host none bind 0 0";
  check_rejected ("redroid", &f, "newline in data path");
  fixture_init (&f);
  f.spec.data_path = "/data/with space";
  check_rejected ("redroid", &f, "space in data path");
  fixture_init (&f);
  f.spec.data_path = NULL;
  check_rejected ("redroid", &f, "no data path");
  fixture_init (&f);
  f.spec.name = "rw1\nlxc.init.cmd = /bin/evil";
  check_rejected ("redroid", &f, "newline in name");
  fixture_init (&f);
  f.spec.bridge = "redway0\nlxc.net.1.type = phys";
  check_rejected ("redroid", &f, "newline in bridge");
  fixture_init (&f);
  f.spec.rootfs_upper = "/x:/y";
  check_rejected ("redroid", &f, "colon in overlay path");
  fixture_init (&f);
  f.spec.ipv4_cidr = "10.0.3.17";
  check_rejected ("redroid", &f, "address without prefix");
  fixture_init (&f);
  f.spec.ipv4_gateway = "10.0.3.1 x";
  check_rejected ("redroid", &f, "bad gateway");
  fixture_init (&f);
  f.spec.mac = "03:52:57:00:00:11";
  check_rejected ("redroid", &f, "multicast mac");
  fixture_init (&f);
  f.spec.log_path = "/var/log/x\n";
  check_rejected ("redroid", &f, "newline in log path");
}

/* ---- generic ---- */

static void
test_generic_golden (void)
{
  Fixture f;
  gchar *entrypoint[] = { (gchar *) "/usr/bin/tini", (gchar *) "--", NULL };
  gchar *cmd[] = { (gchar *) "nginx", (gchar *) "-g", (gchar *) "daemon-off;", NULL };
  gchar *image_env[] = { (gchar *) "PATH=/opt/bin:/usr/bin", (gchar *) "LANG=C.UTF-8",
                         (gchar *) "MODE=image", NULL };
  const gchar *spec_env[] = { "MODE=spec", "EMPTY=", "WITH_SPACES=a b c", NULL };
  gchar *quoting[] = { (gchar *) "/bin/echo", (gchar *) "it's", (gchar *) "\"quoted\"",
                       (gchar *) "$HOME", (gchar *) "a\\b", (gchar *) "#not-a-comment", NULL };

  fixture_init (&f);
  check_golden ("generic", &f, "generic-default");

  fixture_init (&f);
  f.image.entrypoint = entrypoint;
  f.image.cmd = cmd;
  check_golden ("generic", &f, "generic-entrypoint-cmd");

  fixture_init (&f);
  f.image.env = image_env;
  f.spec.env = spec_env;
  check_golden ("generic", &f, "generic-env");

  fixture_init (&f);
  f.image.working_dir = (gchar *) "/srv/app";
  check_golden ("generic", &f, "generic-workdir");

  fixture_init (&f);
  f.image.user = (gchar *) "1000:1001";
  check_golden ("generic", &f, "generic-user-numeric");

  /* Names resolved from the image's own /etc/passwd and /etc/group. */
  fixture_init (&f);
  f.spec.rootfs_lower = GOLDEN_DIR "/rootfs";
  f.image.user = (gchar *) "app";
  check_golden ("generic", &f, "generic-user-name");
  fixture_init (&f);
  f.spec.rootfs_lower = GOLDEN_DIR "/rootfs";
  f.image.user = (gchar *) "app:staff";
  check_golden ("generic", &f, "generic-user-name-group");

  fixture_init (&f);
  f.image.cmd = quoting;
  check_golden ("generic", &f, "generic-quoting");

  fixture_init (&f);
  f.spec.bridge = f.spec.ipv4_cidr = f.spec.ipv4_gateway = f.spec.mac = NULL;
  check_golden ("generic", &f, "generic-no-network");

  /* Resource limits: v1 controller files, or the unified ones on a host
   * without v1 hierarchies. */
  {
    RwLimits limits = { .set = RW_LIMIT_MEMORY | RW_LIMIT_CPUS | RW_LIMIT_PIDS | RW_LIMIT_CPU_WEIGHT,
                        .memory = 512 * 1024 * 1024, .cpus = 1.5, .pids = 200, .cpu_weight = 50 };
    RwHostFacts unified = { .devices_cgroup_v1 = FALSE, .lxc_cgroup_keys = FALSE };

    fixture_init (&f);
    f.spec.limits = &limits;
    check_golden ("generic", &f, "generic-limits-v1");
    fixture_init (&f);
    f.spec.limits = &limits;
    f.spec.host = &unified;
    /* LXC 7 on a unified host: no lxc.cgroup.* key at all. */
    check_golden ("generic", &f, "generic-limits-v2");
  }

  /* Unprivileged: its own user namespace over the id-shifted copy of the
   * image, LXC's seccomp policy, a generated AppArmor profile. */
  fixture_init (&f);
  f.spec.idmap_base = 1000000000;
  f.spec.image_rootfs = f.spec.rootfs_lower;
  f.spec.rootfs_lower = "/var/lib/redway/images/sha256-0123/rootfs-shift-1000000000";
  check_golden ("generic", &f, "generic-unprivileged");

  /* A clone: its upper dir over frozen layers over the image. */
  fixture_init (&f);
  f.spec.rootfs_layers = "/var/lib/redway/layers/00000000000000b2/upper:/var/lib/redway/layers/00000000000000a1/upper";
  check_golden ("generic", &f, "generic-layers");
  fixture_init (&f);
  f.spec.rootfs_layers = "/var/lib/redway/layers/a,b/upper";
  check_rejected ("generic", &f, "a layer with a comma (overlayfs option separator)");
  fixture_init (&f);
  f.spec.rootfs_layers = "relative/upper";
  check_rejected ("generic", &f, "a relative layer");

  /* Volumes: LXC binds redway's staging mounts at relative targets. */
  {
    const RwMountEntry mounts[] = {
      { "/var/lib/redway/run/mounts/golden/0", "/srv/data", FALSE },
      { "/var/lib/redway/run/mounts/golden/1", "/etc/app/conf.d", TRUE },
    };

    fixture_init (&f);
    f.spec.mounts = mounts;
    f.spec.n_mounts = G_N_ELEMENTS (mounts);
    check_golden ("generic", &f, "generic-volumes");
    fixture_init (&f);
    f.spec.mounts = mounts;
    f.spec.n_mounts = G_N_ELEMENTS (mounts);
    check_golden ("redroid", &f, "redroid-volumes");
  }
}

static void
test_mount_rejects (void)
{
  const gchar *targets[] = { "relative", "/", "/a/../b", "/a/./b", "/a//b", "/a/", "/proc/x", "/sys",
                             "/dev/null", "/a b", "/a\\b", "/a:b", "/a\nlxc.hook.start = /bin/sh", NULL };
  const gchar *sources[] = { "relative", "/with space", "/with\nnewline", "/tab\there", NULL };
  Fixture f;

  for (guint i = 0; targets[i] != NULL; i++)
    {
      RwMountEntry m = { "/var/lib/redway/run/mounts/golden/0", targets[i], FALSE };

      fixture_init (&f);
      f.spec.mounts = &m;
      f.spec.n_mounts = 1;
      check_rejected ("generic", &f, targets[i]);
    }
  for (guint i = 0; sources[i] != NULL; i++)
    {
      RwMountEntry m = { sources[i], "/srv", FALSE };

      fixture_init (&f);
      f.spec.mounts = &m;
      f.spec.n_mounts = 1;
      check_rejected ("generic", &f, sources[i]);
    }
}

static void
test_generic_rejects (void)
{
  Fixture f;
  gchar *space[] = { (gchar *) "sh", (gchar *) "-c", (gchar *) "echo hello", NULL };
  gchar *empty[] = { (gchar *) "printf", (gchar *) "", NULL };
  gchar *newline[] = { (gchar *) "sh\nlxc.init.uid = 0", NULL };
  gchar *tab[] = { (gchar *) "a\tb", NULL };
  gchar *env_noeq[] = { (gchar *) "HOME", NULL };
  gchar *env_nl[] = { (gchar *) "A=1\nlxc.init.uid = 0", NULL };
  const gchar *spec_env_noeq[] = { "SECRET_FROM_DAEMON", NULL };
  const gchar *spec_env_empty_key[] = { "=x", NULL };

  /* lxc.init.cmd cannot carry these: the argv goes to liblxc's start(). */
  fixture_init (&f);
  f.image.cmd = space;
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwLxcConfig) config = rw_profile_generic (&f.spec, &error);
    g_autofree gchar *text = NULL;
    g_assert_no_error (error);
    g_assert_cmpstrv (config->init_argv, space);
    text = rw_lxc_config_to_string (config);
    g_assert_null (strstr (text, "lxc.init.cmd"));
  }
  fixture_init (&f);
  f.image.cmd = empty;
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwLxcConfig) config = rw_profile_generic (&f.spec, &error);
    g_assert_no_error (error);
    g_assert_cmpstrv (config->init_argv, empty);
  }
  /* A newline must not reach the config file: it goes as argv. */
  fixture_init (&f);
  f.image.entrypoint = newline;
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RwLxcConfig) config = rw_profile_generic (&f.spec, &error);
    g_autofree gchar *text = NULL;
    g_assert_no_error (error);
    g_assert_cmpstrv (config->init_argv, newline);
    text = rw_lxc_config_to_string (config);
    g_assert_null (strstr (text, "lxc.init.uid = 0"));
  }
  fixture_init (&f);
  f.image.cmd = tab;
  {
    g_autoptr(RwLxcConfig) config = rw_profile_generic (&f.spec, NULL);
    g_assert_cmpstrv (config->init_argv, tab);
  }
  fixture_init (&f);
  f.image.env = env_noeq;
  check_rejected ("generic", &f, "image env without =");
  fixture_init (&f);
  f.image.env = env_nl;
  check_rejected ("generic", &f, "newline in env");
  fixture_init (&f);
  f.spec.env = spec_env_noeq;
  check_rejected ("generic", &f, "spec env without =");
  fixture_init (&f);
  f.spec.env = spec_env_empty_key;
  check_rejected ("generic", &f, "empty env key");
  fixture_init (&f);
  f.image.working_dir = (gchar *) "relative/dir";
  check_rejected ("generic", &f, "relative workdir");
  fixture_init (&f);
  f.image.working_dir = (gchar *) "/srv\nlxc.init.uid = 0";
  check_rejected ("generic", &f, "newline in workdir");
  fixture_init (&f);
  f.image.user = (gchar *) "0\nlxc.cap.drop =";
  check_rejected ("generic", &f, "newline in user");
  fixture_init (&f);
  f.image.user = (gchar *) "nosuchuser";
  check_rejected ("generic", &f, "unknown user (no passwd)");
  fixture_init (&f);
  f.spec.rootfs_lower = GOLDEN_DIR "/rootfs";
  f.image.user = (gchar *) "app:nosuchgroup";
  check_rejected ("generic", &f, "unknown group");
  fixture_init (&f);
  f.image.user = (gchar *) "1000:";
  check_rejected ("generic", &f, "empty group");
}

/* A hostile image whose /etc/passwd is a symlink to the host's must not
 * resolve names from the host file. */
static void
test_generic_user_no_escape (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *root = g_dir_make_tmp ("rw-rootfs-XXXXXX", &error);
  g_autofree gchar *etc = g_build_filename (root, "etc", NULL);
  g_autofree gchar *passwd = g_build_filename (etc, "passwd", NULL);
  Fixture f;

  g_assert_no_error (error);
  g_assert_no_errno (g_mkdir (etc, 0755));
  g_assert_no_errno (symlink ("../../../../../../../../etc/passwd", passwd));

  fixture_init (&f);
  f.spec.rootfs_lower = root;
  f.image.user = (gchar *) "root";
  check_rejected ("generic", &f, "passwd symlink escape (relative)");

  g_assert_no_errno (g_unlink (passwd));
  g_assert_no_errno (symlink ("/proc/self/root/etc/passwd", passwd));
  check_rejected ("generic", &f, "passwd symlink escape (magic link)");

  g_assert_no_errno (g_unlink (passwd));
  g_assert_no_errno (g_rmdir (etc));
  g_assert_no_errno (g_rmdir (root));
}

static void
test_detect (void)
{
  RwImageConfig c = { 0 };
  gchar *redroid_cmd[] = { (gchar *) "/init", (gchar *) "qemu=1",
                           (gchar *) "androidboot.hardware=redroid", NULL };
  gchar *init_only[] = { (gchar *) "/init", NULL };

  g_assert_cmpstr (rw_profile_detect ("redroid/redroid:12.0.0_64only-latest", NULL), ==, "redroid");
  g_assert_cmpstr (rw_profile_detect ("docker.io/redroid/redroid@sha256:0123", NULL), ==, "redroid");
  g_assert_cmpstr (rw_profile_detect ("registry.local:5000/me/ReDroid-custom", NULL), ==, "redroid");
  g_assert_cmpstr (rw_profile_detect ("docker.io/library/alpine:latest", NULL), ==, "generic");
  /* The tag is not part of the repository. */
  g_assert_cmpstr (rw_profile_detect ("docker.io/library/alpine:redroid", NULL), ==, "generic");
  g_assert_cmpstr (rw_profile_detect ("redroid.example:5000/library/alpine", NULL), ==, "redroid");
  g_assert_cmpstr (rw_profile_detect (NULL, NULL), ==, "generic");

  c.entrypoint = redroid_cmd;
  g_assert_cmpstr (rw_profile_detect ("me/android", &c), ==, "redroid");
  c.entrypoint = init_only;
  g_assert_cmpstr (rw_profile_detect ("me/android", &c), ==, "generic");
  c.cmd = redroid_cmd + 1;
  g_assert_cmpstr (rw_profile_detect ("me/android", &c), ==, "redroid");
}

static void
test_options_clear (void)
{
  RwRedroidOptions o = { 0 };

  o.width = 5;
  o.gpu_mode = g_strdup ("host");
  o.dns = g_strsplit ("1.1.1.1,8.8.8.8", ",", -1);
  o.proxy_pac = g_strdup ("http://x");
  o.video_devices = g_strsplit ("/dev/video0", ",", -1);
  rw_redroid_options_clear (&o);
  g_assert_null (o.gpu_mode);
  g_assert_null (o.video_devices);
  g_assert_null (o.dns);
  g_assert_null (o.proxy_pac);
  g_assert_cmpuint (o.width, ==, 0);
  rw_redroid_options_clear (&o);
}

/* ---- a real container: proves the keys work together on this host ---- */

static void
write_file (const gchar *path, const gchar *contents, int mode)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_no_errno (g_chmod (path, mode));
}

static void
test_generic_start (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tmp = NULL;
  g_autofree gchar *lower = NULL, *upper = NULL, *lxcpath = NULL, *out = NULL;
  g_autofree gchar *result_path = NULL, *result = NULL, *log = NULL, *busybox = NULL;
  g_autoptr (RwLxcConfig) config = NULL;
  gchar *cmd[] = { (gchar *) "/bin/busybox", (gchar *) "sh", (gchar *) "/probe.sh",
                   (gchar *) "arg'1", NULL };
  gchar *env[] = { (gchar *) "FROM_IMAGE=yes", NULL };
  const gchar *spec_env[] = { "FROM_SPEC=a b", NULL };
  const gchar *dirs[] = { "bin", "dev", "proc", "sys", "tmp", "etc", "srv", NULL };
  struct lxc_container *c;
  Fixture f;

  if (getuid () != 0 || !g_file_test ("/bin/busybox", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs root and a static /bin/busybox");
      return;
    }

  tmp = g_dir_make_tmp ("rw-start-XXXXXX", &error);
  g_assert_no_error (error);
  lower = g_build_filename (tmp, "image", NULL);
  upper = g_build_filename (tmp, "ct", "upper", NULL);
  lxcpath = g_build_filename (tmp, "lxc", NULL);
  g_assert_no_errno (g_mkdir_with_parents (lxcpath, 0755));
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree gchar *d = g_build_filename (lower, dirs[i], NULL);
      g_assert_no_errno (g_mkdir_with_parents (d, 0755));
    }
  {
    g_autofree gchar *contents = NULL;
    gsize len;
    busybox = g_build_filename (lower, "bin", "busybox", NULL);
    g_file_get_contents ("/bin/busybox", &contents, &len, &error);
    g_assert_no_error (error);
    g_file_set_contents (busybox, contents, len, &error);
    g_assert_no_error (error);
    g_assert_no_errno (g_chmod (busybox, 0755));
  }
  {
    g_autofree gchar *probe = g_build_filename (lower, "probe.sh", NULL);
    g_autofree gchar *passwd = g_build_filename (lower, "etc", "passwd", NULL);
    write_file (probe,
                "B=/bin/busybox\n"
                "{ echo \"cwd=$($B pwd)\"; echo \"uid=$($B id -u) gid=$($B id -g)\";\n"
                "  echo \"arg=$1\"; echo \"image=$FROM_IMAGE\"; echo \"spec=$FROM_SPEC\";\n"
                "  echo \"path=$PATH\"; echo \"pid=$$\"; } > /tmp/result\n", 0755);
    write_file (passwd, "root:x:0:0::/:/bin/sh\nsvc:x:4242:4343::/:/bin/sh\n", 0644);
  }

  fixture_init (&f);
  f.spec.name = "rwstart";
  f.spec.lxcpath = lxcpath;
  f.spec.rootfs_lower = lower;
  f.spec.rootfs_upper = upper;
  f.spec.log_path = log = g_build_filename (tmp, "lxc.log", NULL);
  f.spec.console_log_path = out = g_build_filename (tmp, "console.log", NULL);
  f.spec.bridge = f.spec.ipv4_cidr = f.spec.ipv4_gateway = f.spec.mac = NULL;
  f.spec.env = spec_env;
  f.image.cmd = cmd;
  f.image.env = env;
  f.image.working_dir = (gchar *) "/srv";
  f.image.user = (gchar *) "svc";
  config = rw_profile_generic (&f.spec, &error);
  g_assert_no_error (error);

  c = lxc_container_new ("rwstart", lxcpath);
  g_assert_nonnull (c);
  for (guint i = 0; i < config->keys->len; i++)
    g_assert_true (c->set_config_item (c, g_ptr_array_index (config->keys, i),
                                       g_ptr_array_index (config->values, i)));
  c->want_daemonize (c, TRUE);
  /* The probe writes as uid 4242 into /tmp of the overlay. */
  {
    g_autofree gchar *utmp = g_build_filename (upper, "tmp", NULL);
    g_assert_no_errno (g_mkdir_with_parents (utmp, 01777));
    g_assert_no_errno (g_chmod (utmp, 01777));
  }
  if (!c->start (c, 0, NULL))
    {
      g_autofree gchar *l = NULL;
      g_file_get_contents (log, &l, NULL, NULL);
      g_error ("container failed to start; LXC log:\n%s", l ? l : "(none)");
    }
  g_assert_true (c->wait (c, "STOPPED", 30));
  lxc_container_put (c);

  result_path = g_build_filename (upper, "tmp", "result", NULL);
  g_file_get_contents (result_path, &result, NULL, &error);
  if (error != NULL)
    {
      g_autofree gchar *l = NULL;
      g_file_get_contents (log, &l, NULL, NULL);
      g_error ("no probe result: %s; LXC log:\n%s", error->message, l ? l : "(none)");
    }
  g_test_message ("probe: %s", result);
  g_assert_nonnull (strstr (result, "cwd=/srv\n"));
  g_assert_nonnull (strstr (result, "uid=4242 gid=4343\n"));
  g_assert_nonnull (strstr (result, "arg=arg'1\n"));
  g_assert_nonnull (strstr (result, "image=yes\n"));
  g_assert_nonnull (strstr (result, "spec=a b\n"));
  g_assert_nonnull (strstr (result, "pid=1\n"));
  /* Where LXC's overlay driver put the work dir: a sibling of the upper dir. */
  {
    g_autofree gchar *work = g_build_filename (tmp, "ct", "work", NULL);
    g_autofree gchar *olwork = g_build_filename (tmp, "ct", "olwork", NULL);
    g_test_message ("overlay work dir: work=%d olwork=%d",
                    g_file_test (work, G_FILE_TEST_IS_DIR), g_file_test (olwork, G_FILE_TEST_IS_DIR));
    g_assert_true (g_file_test (work, G_FILE_TEST_IS_DIR) || g_file_test (olwork, G_FILE_TEST_IS_DIR));
  }

  if (g_getenv ("REDWAY_KEEP_TMP") == NULL)
    {
      g_autofree gchar *argv0 = g_strdup_printf ("rm -rf '%s'", tmp);
      g_spawn_command_line_sync (argv0, NULL, NULL, NULL, NULL);
    }
}

/* ---- Redroid's host-wide sysctl writes, with the real Redroid config ---- */

/* Reads a host sysctl (tests only). */
static gchar *
sysctl_now (const gchar *path)
{
  gchar *value = NULL;

  if (!g_file_get_contents (path, &value, NULL, NULL))
    return NULL;
  value[strcspn (value, "\n")] = '\0';
  return value;
}

/* A fake Android /init started with the Redroid profile's own config: it
 * writes host-wide sysctls the way Android's init does (errors ignored),
 * first through LXC's /proc (proc:mixed: /proc/sys read-only), then
 * through a procfs of its own, as Android's first-stage init mounts one.
 * Only vm.overcommit_memory=1 and kernel.pid_max=65535 are written for
 * real (the latter reaches the host only before Linux 6.14): harmless for the seconds until the guard puts them back, unlike
 * an empty kernel.modprobe or panic_on_oops=1 on a shared test host (the
 * guard treats all five alike; tests/test-host.c covers the others on a
 * fake tree). */
static void
test_redroid_sysctl_guard (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tmp = NULL, *lower = NULL, *upper = NULL, *lxcpath = NULL, *data = NULL;
  g_autofree gchar *log = NULL, *run = NULL, *result_path = NULL, *result = NULL, *changes = NULL;
  g_autofree gchar *overcommit_before = sysctl_now ("/proc/sys/vm/overcommit_memory");
  g_autofree gchar *pid_max_before = sysctl_now ("/proc/sys/kernel/pid_max");
  g_autofree gchar *overcommit_after = NULL, *pid_max_after = NULL;
  g_autoptr (RwLxcConfig) config = NULL;
  const gchar *dirs[] = { "bin", "dev", "proc", "sys", "tmp", "data", NULL };
  RwHostFacts facts;
  struct lxc_container *c;
  gboolean started, restored;
  Fixture f;

  if (getuid () != 0 || !g_file_test ("/bin/busybox", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs root and a static /bin/busybox");
      return;
    }
  if (overcommit_before == NULL || pid_max_before == NULL)
    {
      g_test_skip ("this kernel lacks vm.overcommit_memory or kernel.pid_max");
      return;
    }
  /* Values the guest would not change would prove nothing. */
  if (g_str_equal (overcommit_before, "1") || g_str_equal (pid_max_before, "65535"))
    {
      g_test_skip ("the host already has Android's values");
      return;
    }

  tmp = g_dir_make_tmp ("rw-sysctl-XXXXXX", &error);
  g_assert_no_error (error);
  lower = g_build_filename (tmp, "image", NULL);
  upper = g_build_filename (tmp, "ct", "upper", NULL);
  lxcpath = g_build_filename (tmp, "lxc", NULL);
  data = g_build_filename (tmp, "data", NULL);
  run = g_build_filename (tmp, "run", NULL);
  g_assert_no_errno (g_mkdir_with_parents (lxcpath, 0755));
  g_assert_no_errno (g_mkdir_with_parents (data, 0755));
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree gchar *d = g_build_filename (lower, dirs[i], NULL);
      g_assert_no_errno (g_mkdir_with_parents (d, 0755));
    }
  {
    g_autofree gchar *contents = NULL;
    g_autofree gchar *busybox = g_build_filename (lower, "bin", "busybox", NULL);
    g_autofree gchar *init = g_build_filename (lower, "init", NULL);
    gsize len;

    g_file_get_contents ("/bin/busybox", &contents, &len, &error);
    g_assert_no_error (error);
    g_file_set_contents (busybox, contents, len, &error);
    g_assert_no_error (error);
    g_assert_no_errno (g_chmod (busybox, 0755));
    write_file (init,
                "#!/bin/busybox sh\n"
                "B=/bin/busybox\n"
                "{\n"
                "  echo \"args=$*\"\n"
                "  if echo 1 > /proc/sys/vm/overcommit_memory; then echo lxc_proc=rw; else echo lxc_proc=ro; fi\n"
                "  $B mkdir -p /tmp/proc && $B mount -t proc proc /tmp/proc && echo own_proc=mounted\n"
                "  echo 1 > /tmp/proc/sys/vm/overcommit_memory && echo overcommit=written\n"
                "  echo 65535 > /tmp/proc/sys/kernel/pid_max && echo pid_max=written\n"
                "  $B umount /tmp/proc\n"
                "} > /data/result 2>&1\n", 0755);
  }

  /* The host's values, as PrepareHost records them. */
  g_assert_true (rw_host_sysctl_record (NULL, run, NULL, &error));
  g_assert_no_error (error);

  fixture_init (&f);
  f.spec.name = "rwsysctl";
  f.spec.lxcpath = lxcpath;
  f.spec.rootfs_lower = lower;
  f.spec.rootfs_upper = upper;
  f.spec.data_path = data;
  f.spec.log_path = log = g_build_filename (tmp, "lxc.log", NULL);
  f.spec.console_log_path = NULL;
  f.spec.bridge = f.spec.ipv4_cidr = f.spec.ipv4_gateway = f.spec.mac = NULL;
  rw_host_facts_detect (NULL, &facts);
  f.spec.host = &facts;
  f.spec.redroid = &f.redroid;
  config = rw_profile_redroid (&f.spec, &error);
  g_assert_no_error (error);

  c = lxc_container_new ("rwsysctl", lxcpath);
  g_assert_nonnull (c);
  for (guint i = 0; i < config->keys->len; i++)
    g_assert_true (c->set_config_item (c, g_ptr_array_index (config->keys, i),
                                       g_ptr_array_index (config->values, i)));
  c->want_daemonize (c, TRUE);
  started = c->start (c, 0, NULL);
  if (started)
    c->wait (c, "STOPPED", 30);
  lxc_container_put (c);

  /* Put back first, assert after: a failed assertion must not leave the host changed. */
  restored = rw_host_sysctl_restore (NULL, run, &changes, &error);
  overcommit_after = sysctl_now ("/proc/sys/vm/overcommit_memory");
  pid_max_after = sysctl_now ("/proc/sys/kernel/pid_max");
  g_assert_no_error (error);
  g_assert_true (restored);
  g_assert_cmpstr (overcommit_after, ==, overcommit_before);
  g_assert_cmpstr (pid_max_after, ==, pid_max_before);

  if (!started)
    {
      g_autofree gchar *l = NULL;
      g_file_get_contents (log, &l, NULL, NULL);
      g_error ("container failed to start; LXC log:\n%s", l ? l : "(none)");
    }
  result_path = g_build_filename (data, "result", NULL);
  g_file_get_contents (result_path, &result, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("guest: %s", result);
  g_test_message ("guard: %s", changes ? changes : "(nothing to put back)");
  g_assert_nonnull (strstr (result, "args=androidboot.hardware=redroid "));
  /* LXC's /proc keeps /proc/sys read-only (proc:mixed)... */
  g_assert_nonnull (strstr (result, "lxc_proc=ro\n"));
  /* ...but a procfs of the guest's own reaches the host's settings: why
   * the guard exists. */
  g_assert_nonnull (strstr (result, "own_proc=mounted\n"));
  g_assert_nonnull (strstr (result, "overcommit=written\n"));
  g_assert_nonnull (strstr (result, "pid_max=written\n"));
  {
    g_autofree gchar *o = g_strdup_printf ("vm.overcommit_memory “1” put back to “%s”", overcommit_before);
    g_autofree gchar *p = g_strdup_printf ("kernel.pid_max “65535” put back to “%s”", pid_max_before);

    g_assert_nonnull (changes);
    g_assert_nonnull (strstr (changes, o));
    /* Since Linux 6.14 kernel.pid_max belongs to the PID namespace: the
     * guest's write stays inside and there is nothing to put back. */
    if (strstr (changes, "kernel.pid_max") != NULL)
      g_assert_nonnull (strstr (changes, p));
    else
      g_test_message ("kernel.pid_max is per PID namespace here: the host kept %s", pid_max_before);
  }

  if (g_getenv ("REDWAY_KEEP_TMP") == NULL)
    {
      g_autofree gchar *argv0 = g_strdup_printf ("rm -rf '%s'", tmp);
      g_spawn_command_line_sync (argv0, NULL, NULL, NULL, NULL);
    }
}

int
main (int argc, char **argv)
{
  rw_test_use_private_tmpdir ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/profile/redroid/golden", test_redroid_golden);
  g_test_add_func ("/profile/redroid/rejects", test_redroid_rejects);
  g_test_add_func ("/profile/generic/golden", test_generic_golden);
  g_test_add_func ("/profile/mount-rejects", test_mount_rejects);
  g_test_add_func ("/profile/generic/rejects", test_generic_rejects);
  g_test_add_func ("/profile/generic/user-no-escape", test_generic_user_no_escape);
  g_test_add_func ("/profile/generic/start", test_generic_start);
  g_test_add_func ("/profile/redroid/sysctl-guard", test_redroid_sysctl_guard);
  g_test_add_func ("/profile/detect", test_detect);
  g_test_add_func ("/profile/options-clear", test_options_clear);
  return g_test_run ();
}
