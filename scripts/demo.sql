-- demo.sql — demo flags for the setup script (scripts/setup.sh).
-- Creates the extension, imports a flagd document, adds a segment and a
-- few changes so that the history has something to show.

CREATE EXTENSION IF NOT EXISTS feature_flags;

BEGIN;
SET LOCAL ff.change_comment = 'demo: initial import';
SELECT ff.import_flagd($doc$
{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "metadata": { "flagSetId": "demo", "version": "1" },
  "flags": {
    "new-checkout": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off",
      "targeting": {
        "if": [
          { "ends_with": [{ "var": "email" }, "@example.com"] }, "on",
          { "in": [{ "var": "country" }, ["DE", "AT", "CH"]] },
          { "fractional": [["on", 25], ["off", 75]] },
          null
        ]
      },
      "metadata": { "owner": "payments" }
    },
    "ui-theme": {
      "state": "ENABLED",
      "variants": { "classic": "classic", "dark": "dark", "neon": "neon" },
      "defaultVariant": "classic",
      "targeting": {
        "if": [
          { "sem_ver": [{ "var": "app_version" }, ">=", "2.3.0"] }, "neon",
          { "==": [{ "var": "country" }, "DE"] }, "dark"
        ]
      }
    },
    "search-page-size": {
      "state": "ENABLED",
      "variants": { "small": 10, "medium": 25, "large": 50 },
      "defaultVariant": "medium"
    },
    "support-banner": {
      "state": "ENABLED",
      "variants": {
        "none": { "show": false },
        "maintenance": { "show": true, "text": "Maintenance on Sunday 02:00 UTC" }
      },
      "defaultVariant": "none"
    },
    "legacy-export": {
      "state": "DISABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on"
    }
  }
}
$doc$::jsonb);
COMMIT;

BEGIN;
SET LOCAL ff.change_comment = 'demo: beta testers segment';
INSERT INTO ff.segments (environment, name, rule, description)
VALUES ('development', 'beta-testers', '{"==": [{"var": "plan"}, "beta"]}',
        'Users on the beta plan, plus a hand-picked list');
INSERT INTO ff.segment_keys (environment, segment, targeting_key)
VALUES ('development', 'beta-testers', 'user-1'), ('development', 'beta-testers', 'user-2');
UPDATE ff.flags SET targeting = '{"if": [{"in_segment": "beta-testers"}, "neon", {"sem_ver": [{"var": "app_version"}, ">=", "2.3.0"]}, "neon", {"==": [{"var": "country"}, "DE"]}, "dark"]}'
WHERE environment = 'development' AND key = 'ui-theme';
COMMIT;

BEGIN;
SET LOCAL ff.change_comment = 'demo: show the maintenance banner';
UPDATE ff.flags SET default_variant = 'maintenance'
WHERE environment = 'development' AND key = 'support-banner';
COMMIT;
