/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <json-glib/json-glib.h>

#include "redway.h"

G_BEGIN_DECLS

/* Exit codes shared by every command. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

#define CLI_TYPE_APP (cli_app_get_type ())
G_DECLARE_FINAL_TYPE (CliApp, cli_app, CLI, APP, GApplication)

typedef int (*CliCommandFunc) (CliApp *app,
                               int     argc,
                               char  **argv);

/* Connection and calls (redway-cli.c) */
RedwayClient *cli_app_get_client (CliApp  *app,
                                  GError **error);
RedwayManager *cli_app_get_manager (CliApp  *app,
                                    GError **error);
gboolean cli_app_has_client (CliApp *app);
void cli_app_set_no_ask_password (CliApp  *app,
                                  gboolean no_ask);
gboolean cli_app_get_no_ask_password (CliApp *app);

RedwayManager *cli_get_manager (CliApp *app);
GDBusCallFlags cli_call_flags (CliApp *app);
char *cli_default_container_name (CliApp *app);
RedwayContainer *cli_get_container (CliApp     *app,
                                    const char *name);
/* Every container's properties, as unexported objects (no proxies); each
 * carries its D-Bus path as the object data "object-path". */
GList *cli_list_containers (CliApp *app, GError **error);
RedwayJob *cli_get_job (CliApp     *app,
                        const char *object_path,
                        GError    **error);

void cli_flush_events (void);

/* Argument parsing */
gboolean cli_parse_options (CliApp         *app,
                            GOptionContext *context,
                            int            *argc,
                            char         ***argv);
GOptionContext *cli_option_context_new (const char *parameters,
                                        const char *summary);

/* Reporting; each returns the exit code to use. */
int cli_error (const char *format,
               ...) G_GNUC_PRINTF (1, 2);
int cli_usage_error (const char *format,
                     ...) G_GNUC_PRINTF (1, 2);
int cli_report_error (const GError *error);
int cli_report_connect_error (const GError *error);

/* Job display */
gboolean cli_wait_for_job (CliApp     *app,
                           const char *job_path,
                           GError    **error);

/* Output helpers */
gboolean cli_write_all (int          fd,
                        const void  *data,
                        gsize        len,
                        GError     **error);
void cli_print_table (const char *const *headers,
                      GPtrArray         *rows);
void cli_print_json (JsonNode *node);
char *cli_format_time (guint64 usec);
char *cli_strv_join (const char *const *strv,
                     const char *empty);
gboolean cli_stdin_is_tty (void);
gboolean cli_stdout_is_tty (void);

JsonNode *cli_container_to_json (RedwayContainer *container);

/* Commands */
int cli_cmd_prepare_lxc (CliApp *app, int argc, char **argv);
int cli_cmd_import_legacy (CliApp *app, int argc, char **argv);
int cli_cmd_init (CliApp *app, int argc, char **argv);
int cli_cmd_start (CliApp *app, int argc, char **argv);
int cli_cmd_stop (CliApp *app, int argc, char **argv);
int cli_cmd_restart (CliApp *app, int argc, char **argv);
int cli_cmd_freeze (CliApp *app, int argc, char **argv);
int cli_cmd_thaw (CliApp *app, int argc, char **argv);
int cli_cmd_convert (CliApp *app, int argc, char **argv);
int cli_cmd_update (CliApp *app, int argc, char **argv);
int cli_cmd_snapshot (CliApp *app, int argc, char **argv);
int cli_cmd_clone (CliApp *app, int argc, char **argv);
int cli_cmd_commit (CliApp *app, int argc, char **argv);
int cli_cmd_export (CliApp *app, int argc, char **argv);
int cli_cmd_import (CliApp *app, int argc, char **argv);
int cli_cmd_stats (CliApp *app, int argc, char **argv);
int cli_cmd_wait (CliApp *app, int argc, char **argv);
int cli_cmd_events (CliApp *app, int argc, char **argv);
int cli_cmd_prop (CliApp *app, int argc, char **argv);
int cli_cmd_logcat (CliApp *app, int argc, char **argv);
int cli_cmd_screenshot (CliApp *app, int argc, char **argv);
int cli_cmd_app (CliApp *app, int argc, char **argv);
int cli_cmd_enable (CliApp *app, int argc, char **argv);
int cli_cmd_disable (CliApp *app, int argc, char **argv);
/* For g_ptr_array_sort of table rows (char **): by the first column. */
gint cli_compare_rows (gconstpointer a, gconstpointer b);

/* Published port options (cmd-ports.c), shared by init and update. */
typedef struct {
  char **publish;
  gboolean publish_adb;
  gboolean no_publish;
} CliPorts;
void cli_ports_clear (CliPorts *ports);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliPorts, cli_ports_clear)
GOptionGroup *cli_ports_option_group (CliPorts *ports);
gboolean cli_ports_to_options (const CliPorts *ports, GVariantBuilder *options, int *code);
/* One line per published port: "PORT/PROTO -> ADDR:HOSTPORT". */
void cli_ports_print (RedwayContainer *container);
int cli_cmd_port (CliApp *app, int argc, char **argv);

/* Resource limit options (cmd-limits.c), shared by init and update. */
typedef struct {
  char *memory;
  char *memory_swap;
  char *cpus;
  int cpu_weight;
  char *cpuset;
  char *pids;
  int io_weight;
  /* restart policy and autostart */
  char *restart;
  gboolean autostart;
  gboolean no_autostart;
  int autostart_order;
  int autostart_delay;
  char *health_cmd;
  int health_interval;
} CliLimits;
void cli_limits_clear (CliLimits *limits);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliLimits, cli_limits_clear)
GOptionGroup *cli_limits_option_group (CliLimits *limits);
gboolean cli_limits_to_options (const CliLimits *limits, GVariantBuilder *options, int *code);
/* "memory 512 MiB, cpus 1.5" or "none". */
char *cli_limits_describe (GVariant *limits);
/* Display, GPU, environment, network and boot options (cmd-settings.c),
 * shared by init and update. */
typedef struct {
  char *gpu_mode;
  char *gpu_node;
  char **video_devices;
  char **env;
  int width, height, dpi, fps;
  char **dns;
  char *proxy_type, *proxy_host, *proxy_port, *proxy_exclude, *proxy_pac;
  char **boot_params;
  gboolean no_env, no_dns, no_video_devices;   /* update only */
} CliSettings;
void cli_settings_clear (CliSettings *settings);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliSettings, cli_settings_clear)
/* @update: 0 and the --no-* options reset a setting. */
GOptionGroup *cli_settings_option_group (CliSettings *settings, gboolean update);
/* @current: the container's Settings for an update (boot parameters are
 * merged into it), NULL at creation. */
gboolean cli_settings_to_options (const CliSettings *settings, GVariantBuilder *options, GVariant *current, int *code);
int cli_cmd_inspect (CliApp *app, int argc, char **argv);
/* The optional NAME argument (argv[1] after option parsing), else the
 * default container; a usage error for more arguments. */
gboolean cli_get_name_arg (CliApp *app, int argc, char **argv, char **out_name, int *exit_code);
int cli_cmd_remove (CliApp *app, int argc, char **argv);
int cli_cmd_status (CliApp *app, int argc, char **argv);
int cli_cmd_list (CliApp *app, int argc, char **argv);
int cli_cmd_adb_connect (CliApp *app, int argc, char **argv);
int cli_cmd_pull (CliApp *app, int argc, char **argv);
int cli_cmd_images (CliApp *app, int argc, char **argv);
int cli_cmd_image (CliApp *app, int argc, char **argv);
int cli_cmd_volume (CliApp *app, int argc, char **argv);
int cli_cmd_cp (CliApp *app, int argc, char **argv);
/* Volume specs with a relative host path (./dir:/x) made absolute. */
char **cli_volumes_absolute (const char * const *specs);
/* update --volume SPEC... / --no-volumes (cmd-volume.c). */
typedef struct {
  char **volumes;
  gboolean none;
} CliVolumeOptions;
void cli_volume_options_clear (CliVolumeOptions *v);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliVolumeOptions, cli_volume_options_clear)
GOptionGroup *cli_volume_option_group (CliVolumeOptions *v);
/* Adds "volumes" when asked for; FALSE (usage error printed) when both are given. */
gboolean cli_volume_options_to_options (const CliVolumeOptions *v, GVariantBuilder *options);
int cli_image_save (CliApp *app, int argc, char **argv);
int cli_image_load (CliApp *app, int argc, char **argv);
int cli_cmd_shell (CliApp *app, int argc, char **argv);
int cli_cmd_exec (CliApp *app, int argc, char **argv);
int cli_cmd_log (CliApp *app, int argc, char **argv);

/* --username/--password-stdin: adds "username" and "password" to @options.
 * The password is one line read from standard input, never an argument
 * (arguments are visible to every user in /proc). Returns an exit code on
 * error, 0 otherwise. */
int cli_add_credentials (GVariantBuilder *options, const char *username, gboolean password_stdin);

G_END_DECLS
