package cockpit

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// catalog holds the labels per language: en and de. A key missing in a
// language falls back to English, then to the key itself.
var catalog = map[string]map[string]string{
	"en": {
		"app": "Ampel cockpit", "skip": "Skip to content", "login": "Log in", "logout": "Log out",
		"key": "Key", "keyhint": "The key you use for the OData feed.", "refused": "This key is not valid: check it, or ask for a new one.",
		"overview": "Overview", "management": "Management view", "lead": "Project-lead view", "kpis": "KPIs",
		"findings": "Findings", "groups": "Duplicate groups", "sync": "Sync", "language": "Language",
		"phase": "Phase", "status": "Status", "core": "Core KPIs", "counts": "Results",
		"green": "on track", "amber": "at risk", "red": "off track", "none": "no value",
		"pre-go-live": "Before go-live", "hypercare": "Hypercare", "business-impact": "Business impact",
		"data-quality": "Data quality", "finance": "Finance", "partner": "Partner enablement",
		"environment": "Environment", "dimension": "Dimension", "value": "Value", "trend": "Trend", "version": "Version",
		"period": "Period", "kpi": "KPI", "numerator": "Numerator", "denominator": "Denominator",
		"thresholds": "Thresholds", "history": "History", "definition": "Definition", "versions": "Versions",
		"inputs": "Inputs used", "syncruns": "Sync runs", "inputsfile": "Inputs file", "owner": "Owner",
		"level": "Level", "unit": "Unit", "direction": "Direction", "grain": "Grain", "sources": "Sources",
		"description": "Description", "sql": "SQL", "released": "released", "draft": "draft",
		"norun": "No KPI run yet: run ampel kpi run (or ampel demo).", "noaudit": "No audit run yet: run ampel audit.",
		"nosync": "No sync yet: run ampel sync.", "lastrun": "Latest run %s, as of %s",
		"rule": "Rule", "severity": "Severity", "kind": "Kind", "table": "Table", "open": "Open",
		"new": "New", "resolved": "Resolved", "record": "Record", "field": "Field", "detail": "Detail",
		"mark": "Mark", "comment": "Comment", "any": "any", "filter": "Filter", "csv": "CSV export",
		"reviewed": "reviewed", "not_a_duplicate": "not a duplicate", "will_fix": "will fix", "unmarked": "no mark",
		"markbtn": "Save mark", "commentbtn": "Comment", "reviewedby": "by %s, %s",
		"shown": "%d of %d shown", "more": "Narrow the filters or export CSV for the rest.",
		"members": "Members", "samefield": "shared value", "open_in_dynamics": "Open in Dynamics",
		"group": "Group", "findings_of": "Findings of %s", "sincelast": "since the last run",
		"mode": "Mode", "started": "Started", "rows": "Rows", "deleted": "Deleted", "duration": "Duration",
		"throttles": "Throttles", "retries": "Retries", "error": "Error", "hint": "Fix", "note": "Note",
		"nochangetracking": "Tables without change tracking", "nochangetracking_help": "Deletes in these tables are only seen by a full reload: enable change tracking on the table in Dynamics (Power Apps: table properties, Track changes).",
		"allchangetracking": "Every table is synced with change tracking.",
		"csrf":              "The form was stale or sent from elsewhere: reload the page and try again.",
		"notfound":          "No such page.", "notmigrated": "The warehouse has no Ampel tables yet: run ampel migrate.",
		"readfailed": "Could not read %s: %s", "nokpi": "No KPI %s: the catalog lists the ids.",
		"markfailed": "The mark was not saved: %s", "marked": "Saved: %s on %d findings.", "error_title": "Error",
		"choose": "Pick a rule", "allrules": "All rules", "signedin": "Signed in with key %s",
		"hint_auth":     "Check the environment's client id and secret in the config, and that the app user exists in Dynamics.",
		"hint_throttle": "Dynamics throttled the sync: lower sync.parallel or move the schedule off peak hours.",
		"hint_timeout":  "The request timed out: check the network to Dynamics, or raise sync.timeout.",
		"hint_schema":   "A column changed its type: see schema_changes and reload the table with ampel sync --full.",
		"hint_notfound": "The table is not in this environment: remove it from the config or check its logical name.",
		"hint_other":    "See the log of the run (run_id) for details.",
		"asof":          "as of", "results_of": "%d results", "latest": "Latest", "open_kpi": "details", "origin": "Origin",
		"since": "Found or resolved", "anytime": "any time",
		"nosql": "This version's file is not in the catalog Ampel runs with: its SQL is in the definitions' git history.",
	},
	"de": {
		"app": "Ampel-Cockpit", "skip": "Zum Inhalt springen", "login": "Anmelden", "logout": "Abmelden",
		"key": "Schlüssel", "keyhint": "Der Schlüssel, den Sie für den OData-Feed verwenden.", "refused": "Dieser Schlüssel ist ungültig: prüfen Sie ihn oder fordern Sie einen neuen an.",
		"overview": "Übersicht", "management": "Management-Sicht", "lead": "Projektleitungs-Sicht", "kpis": "KPIs",
		"findings": "Befunde", "groups": "Dublettengruppen", "sync": "Synchronisation", "language": "Sprache",
		"phase": "Phase", "status": "Status", "core": "Kern-KPIs", "counts": "Ergebnisse",
		"green": "im Plan", "amber": "gefährdet", "red": "nicht im Plan", "none": "kein Wert",
		"pre-go-live": "Vor dem Go-live", "hypercare": "Hypercare", "business-impact": "Geschäftswirkung",
		"data-quality": "Datenqualität", "finance": "Finanzen", "partner": "Partner-Enablement",
		"environment": "Umgebung", "dimension": "Dimension", "value": "Wert", "trend": "Verlauf", "version": "Version",
		"period": "Zeitraum", "kpi": "KPI", "numerator": "Zähler", "denominator": "Nenner",
		"thresholds": "Schwellenwerte", "history": "Verlauf", "definition": "Definition", "versions": "Versionen",
		"inputs": "Verwendete Eingaben", "syncruns": "Sync-Läufe", "inputsfile": "Eingabedatei", "owner": "Verantwortlich",
		"level": "Ebene", "unit": "Einheit", "direction": "Richtung", "grain": "Körnung", "sources": "Quellen",
		"description": "Beschreibung", "sql": "SQL", "released": "freigegeben", "draft": "Entwurf",
		"norun": "Noch kein KPI-Lauf: ampel kpi run (oder ampel demo) ausführen.", "noaudit": "Noch kein Audit: ampel audit ausführen.",
		"nosync": "Noch keine Synchronisation: ampel sync ausführen.", "lastrun": "Letzter Lauf %s, Stichtag %s",
		"rule": "Regel", "severity": "Schwere", "kind": "Art", "table": "Tabelle", "open": "Offen",
		"new": "Neu", "resolved": "Erledigt", "record": "Datensatz", "field": "Feld", "detail": "Befund",
		"mark": "Markierung", "comment": "Kommentar", "any": "alle", "filter": "Filtern", "csv": "CSV-Export",
		"reviewed": "geprüft", "not_a_duplicate": "keine Dublette", "will_fix": "wird behoben", "unmarked": "ohne Markierung",
		"markbtn": "Markierung speichern", "commentbtn": "Kommentieren", "reviewedby": "von %s, %s",
		"shown": "%d von %d angezeigt", "more": "Filter eingrenzen oder den Rest als CSV exportieren.",
		"members": "Mitglieder", "samefield": "gleicher Wert", "open_in_dynamics": "In Dynamics öffnen",
		"group": "Gruppe", "findings_of": "Befunde von %s", "sincelast": "seit dem letzten Lauf",
		"mode": "Modus", "started": "Beginn", "rows": "Zeilen", "deleted": "Gelöscht", "duration": "Dauer",
		"throttles": "Drosselungen", "retries": "Wiederholungen", "error": "Fehler", "hint": "Behebung", "note": "Hinweis",
		"nochangetracking": "Tabellen ohne Änderungsverfolgung", "nochangetracking_help": "Löschungen in diesen Tabellen sieht nur ein vollständiges Neuladen: Änderungsverfolgung der Tabelle in Dynamics einschalten (Power Apps: Tabelleneigenschaften, Änderungen nachverfolgen).",
		"allchangetracking": "Alle Tabellen werden mit Änderungsverfolgung synchronisiert.",
		"csrf":              "Das Formular war veraltet oder kam von anderswo: Seite neu laden und erneut versuchen.",
		"notfound":          "Diese Seite gibt es nicht.", "notmigrated": "Das Warehouse hat noch keine Ampel-Tabellen: ampel migrate ausführen.",
		"readfailed": "%s konnte nicht gelesen werden: %s", "nokpi": "Keine KPI %s: der Katalog nennt die IDs.",
		"markfailed": "Die Markierung wurde nicht gespeichert: %s", "marked": "Gespeichert: %s an %d Befunden.", "error_title": "Fehler",
		"choose": "Regel wählen", "allrules": "Alle Regeln", "signedin": "Angemeldet mit Schlüssel %s",
		"hint_auth":     "Client-ID und Secret der Umgebung in der Konfiguration prüfen, und ob der Anwendungsbenutzer in Dynamics existiert.",
		"hint_throttle": "Dynamics hat gedrosselt: sync.parallel senken oder den Zeitplan außerhalb der Stoßzeiten legen.",
		"hint_timeout":  "Zeitüberschreitung: Netzwerk zu Dynamics prüfen oder sync.timeout erhöhen.",
		"hint_schema":   "Eine Spalte hat ihren Typ geändert: schema_changes ansehen und die Tabelle mit ampel sync --full neu laden.",
		"hint_notfound": "Die Tabelle gibt es in dieser Umgebung nicht: aus der Konfiguration entfernen oder den logischen Namen prüfen.",
		"hint_other":    "Details im Log des Laufs (run_id).",
		"asof":          "Stichtag", "results_of": "%d Ergebnisse", "latest": "Aktuell", "open_kpi": "Details", "origin": "Herkunft",
		"since": "Gefunden oder erledigt", "anytime": "jederzeit",
		"nosql": "Die Datei dieser Version ist nicht im Katalog, mit dem Ampel läuft: ihr SQL steht in der Git-Historie der Definitionen.",
	},
}

// translate looks key up in lang's catalog and formats it with args.
func translate(lang, key string, args ...any) string {
	s, ok := catalog[lang][key]
	if !ok {
		if s, ok = catalog["en"][key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// lang is the request's language: the lang cookie, else the first
// language of Accept-Language the catalog has (by q), else English.
func lang(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil {
		if _, ok := catalog[ck.Value]; ok {
			return ck.Value
		}
	}
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := catalog[base]; ok && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}
