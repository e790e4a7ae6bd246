package nextactions

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones must not depend on the host's zoneinfo
)

var locations sync.Map // name → *time.Location

// loadLocation is time.LoadLocation with a cache: LoadLocation reads the
// zone database on every call, and expressions call it per evaluation.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// parseClock parses "HH:MM:SS" (or "HH:MM") into seconds after midnight.
func parseClock(s string) (int, error) {
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Hour()*3600 + t.Minute()*60 + t.Second(), nil
		}
	}
	return 0, fmt.Errorf("%q is not a time of day HH:MM:SS", printable(s))
}

// parseDate parses "MM/DD/YY" (or "MM/DD/YYYY") into a date.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"01/02/06", "01/02/2006", "1/2/06", "1/2/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date MM/DD/YY", printable(s))
}

var days = map[string]time.Weekday{
	"SUN": time.Sunday, "MON": time.Monday, "TUE": time.Tuesday, "WED": time.Wednesday,
	"THU": time.Thursday, "FRI": time.Friday, "SAT": time.Saturday,
}

// parseDay parses a day of the week: MON, TUE, ... (any case, or the full
// English name).
func parseDay(s string) (time.Weekday, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if len(u) > 3 {
		for name, d := range days {
			if strings.ToUpper(d.String()) == u {
				return days[name], nil
			}
		}
	}
	if d, ok := days[u]; ok {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a day (want MON, TUE, WED, THU, FRI, SAT or SUN)", printable(s))
}

// onDays reports whether wd is one of list; an empty or absent list means
// every day.
func onDays(wd time.Weekday, list [][]any) (bool, error) {
	if len(list) == 0 || len(list[0]) == 0 {
		return true, nil
	}
	for _, v := range list[0] {
		s, ok := v.(string)
		if !ok {
			return false, fmt.Errorf("days: %v is not a day", v)
		}
		d, err := parseDay(s)
		if err != nil {
			return false, err
		}
		if d == wd {
			return true, nil
		}
	}
	return false, nil
}

// timeRange reports whether now, in time zone tz, is between the times of
// day start and end (both included) on one of the days. When start is
// after end the range spans midnight (22:00:00–06:00:00); the day is the
// day of now in tz.
func timeRange(now time.Time, start, end, tz string, dayList [][]any) (bool, error) {
	from, err := parseClock(start)
	if err != nil {
		return false, err
	}
	to, err := parseClock(end)
	if err != nil {
		return false, err
	}
	loc, err := loadLocation(tz)
	if err != nil {
		return false, err
	}
	local := now.In(loc)
	ok, err := onDays(local.Weekday(), dayList)
	if err != nil || !ok {
		return false, err
	}
	t := local.Hour()*3600 + local.Minute()*60 + local.Second()
	if from <= to {
		return from <= t && t <= to, nil
	}
	return t >= from || t <= to, nil
}

// dateRange reports whether the date of now in time zone tz is between
// the dates start and end (both included), on one of the days.
func dateRange(now time.Time, start, end, tz string, dayList [][]any) (bool, error) {
	from, err := parseDate(start)
	if err != nil {
		return false, err
	}
	to, err := parseDate(end)
	if err != nil {
		return false, err
	}
	loc, err := loadLocation(tz)
	if err != nil {
		return false, err
	}
	local := now.In(loc)
	ok, err := onDays(local.Weekday(), dayList)
	if err != nil || !ok {
		return false, err
	}
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	return !day.Before(from) && !day.After(to), nil
}
