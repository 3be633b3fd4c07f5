// Gen prints golden.tsv: Confluent TimeBasedPartitioner folders computed by real
// Joda-Time, for pkg/layout's Go port to match row by row. See README.md.
//
// Columns: timestamp ms, partition.duration.ms, timezone, locale, path.format,
// bucket start ms (getPartition), folder (the encoded partition).

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.joda.time.DateTime;
import org.joda.time.DateTimeZone;
import org.joda.time.format.DateTimeFormat;
import org.joda.time.format.DateTimeFormatter;

public class Gen {
  static final String HOURLY = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
  static final String DAILY = "'year'=YYYY/'month'=MM/'day'=dd";
  static final String[] LISTED = {
    HOURLY, DAILY, "YYYY/MM/dd/HH", "'dt'=YYYY-MM-dd", "'year'=YYYY/'month'=MMM", "yy/D/HH",
  };
  static final String MINUTES = "yyyy-MM-dd'T'HH:mm ZZ";
  static final String ALL_FIELDS = "G C Y y yy YYYYY x xx w ww e E EEEE M MM MMM MMMM d dd D DDD"
      + " H HH h hh k kk K KK m mm s ss S SS SSS SSSS a Z ZZ";
  static final String NUMERIC = "YYYY-MM-dd HH:mm:ss.SSS ZZ e D w x";

  static final long MS = 1, MIN = 60_000, HOUR = 60 * MIN, DAY = 24 * HOUR;

  static final Set<String> rows = new LinkedHashSet<>();

  // getPartition as in Confluent's TimeBasedPartitioner.
  static long partition(long granularityMs, long timestamp, DateTimeZone zone) {
    long adjusted = zone.convertUTCToLocal(timestamp);
    long partitioned = (adjusted / granularityMs) * granularityMs;
    return zone.convertLocalToUTC(partitioned, false);
  }

  static void row(long ts, long duration, String zoneId, String locale, String pattern) {
    String format = pattern;
    if (format.endsWith("/")) { // TimeBasedPartitioner.configure drops a trailing directory.delim
      format = format.substring(0, format.length() - 1);
    }
    DateTimeZone zone = DateTimeZone.forID(zoneId);
    DateTimeFormatter f = DateTimeFormat.forPattern(format).withZone(zone).withLocale(new Locale(locale));
    long bucket = partition(duration, ts, zone);
    rows.add(ts + "\t" + duration + "\t" + zoneId + "\t" + locale + "\t" + pattern + "\t" + bucket
        + "\t" + new DateTime(bucket).toString(f));
  }

  static void rows(List<Long> instants, long[] durations, String[] zones, String[] locales, String[] patterns) {
    for (String zone : zones) {
      for (long ts : instants) {
        for (long d : durations) {
          for (String locale : locales) {
            for (String p : patterns) {
              row(ts, d, zone, locale, p);
            }
          }
        }
      }
    }
  }

  // sweep lists instants every step from t-span to t+span, and t-1, t+1.
  static List<Long> sweep(long t, long span, long step) {
    List<Long> out = new ArrayList<>();
    for (long x = t - span; x <= t + span; x += step) {
      out.add(x);
    }
    out.add(t - 1);
    out.add(t + 1);
    return out;
  }

  static List<Long> transitions2026(String zoneId) {
    DateTimeZone zone = DateTimeZone.forID(zoneId);
    long end = new DateTime(2027, 1, 1, 0, 0, DateTimeZone.UTC).getMillis();
    List<Long> out = new ArrayList<>();
    for (long t = zone.nextTransition(new DateTime(2026, 1, 1, 0, 0, DateTimeZone.UTC).getMillis());
        t < end; t = zone.nextTransition(t)) {
      out.add(t);
    }
    return out;
  }

  static void dstSweeps() {
    String[] patterns = {HOURLY, DAILY, "yy/D/HH", MINUTES};
    long[] durations = {15 * MIN, HOUR, 6 * HOUR, DAY, 100 * MIN};
    for (String zone : new String[] {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}) {
      for (long t : transitions2026(zone)) {
        rows(sweep(t, 3 * HOUR, 30 * MIN), durations, new String[] {zone}, new String[] {"en"}, patterns);
      }
    }
    // Zones whose clocks jump at local midnight, so a day's first local instant is missing.
    for (String zone : new String[] {"America/Santiago", "America/Havana", "Asia/Beirut"}) {
      for (long t : transitions2026(zone)) {
        rows(sweep(t, 3 * HOUR, 30 * MIN), new long[] {HOUR, DAY, 45 * MIN}, new String[] {zone},
            new String[] {"en"}, new String[] {HOURLY, DAILY, MINUTES});
      }
    }
  }

  static void midnights() {
    String[] zones = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"};
    for (String zoneId : zones) {
      DateTimeZone zone = DateTimeZone.forID(zoneId);
      List<Long> instants = new ArrayList<>();
      for (DateTime m : new DateTime[] {
          new DateTime(2026, 12, 1, 0, 0, zone), new DateTime(2026, 1, 1, 0, 0, zone),
          new DateTime(2027, 1, 1, 0, 0, zone)}) {
        for (long off : new long[] {-MS, 0, 30 * MIN}) {
          instants.add(m.getMillis() + off);
        }
      }
      rows(instants, new long[] {15 * MIN, HOUR, 6 * HOUR, DAY}, new String[] {zoneId}, new String[] {"en"}, LISTED);
    }
  }

  static void beforeEpoch() {
    List<Long> instants = List.of(0L, -1L, -30 * MIN, -HOUR - 1, -DAY - 1, -400 * DAY);
    rows(instants, new long[] {HOUR, DAY}, new String[] {"UTC", "America/New_York", "Asia/Kolkata"},
        new String[] {"en"}, new String[] {HOURLY, DAILY, MINUTES});
  }

  static void allFields() {
    List<Long> instants = new ArrayList<>();
    int[][] dates = {
      {2026, 1, 1, 0, 0, 0, 0}, {2026, 2, 15, 11, 59, 59, 999}, {2026, 3, 15, 12, 0, 0, 7},
      {2026, 4, 15, 13, 5, 9, 45}, {2026, 5, 15, 23, 30, 0, 123}, {2026, 6, 15, 6, 7, 8, 9},
      {2026, 7, 15, 18, 45, 30, 500}, {2026, 8, 15, 1, 2, 3, 4}, {2026, 9, 15, 12, 30, 0, 0},
      {2026, 10, 15, 0, 30, 0, 0}, {2026, 11, 30, 18, 0, 0, 0}, {2026, 12, 31, 23, 59, 59, 999},
      {2027, 1, 1, 0, 0, 0, 0}, {2024, 12, 30, 9, 0, 0, 0}, {2021, 1, 3, 9, 0, 0, 0},
      {2020, 12, 31, 9, 0, 0, 0}, {1969, 12, 31, 23, 0, 0, 0}, {12345, 6, 7, 8, 9, 10, 11},
      {1, 1, 1, 0, 0, 0, 0}, {0, 6, 1, 12, 0, 0, 0}, {-50, 3, 4, 5, 6, 7, 8},
    };
    for (int[] d : dates) {
      instants.add(new DateTime(d[0], d[1], d[2], d[3], d[4], d[5], d[6], DateTimeZone.UTC).getMillis());
    }
    String[] zones = {"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"};
    rows(instants, new long[] {MS}, zones, new String[] {"en", "de", "en_US", "DE"}, new String[] {ALL_FIELDS});
    rows(instants, new long[] {MS}, zones, new String[] {"fr", "xx", "ja_JP"}, new String[] {NUMERIC});
    // Zone ids that are offsets or aliases.
    String[] ids = {"+05:30", "-08", "UTC-03:30", "GMT+0100", "UT", "Z", "GMT", "Etc/GMT+5", "US/Eastern"};
    rows(instants.subList(0, 13), new long[] {HOUR}, ids, new String[] {"en"}, new String[] {NUMERIC, HOURLY});
  }

  static void parseShapes() {
    List<Long> instants = new ArrayList<>();
    for (int month = 1; month <= 12; month += 2) {
      instants.add(new DateTime(2026, month, month + 10, month + 6, 4 * month + 3, DateTimeZone.UTC).getMillis());
    }
    String[] patterns = {
      "yyyy-MM-dd hh:mm a", "kk:mm yyyyMMdd", "yyyyMMddHHmm", "KK a yyyy-MM-dd", "xxxx-'W'ww-e",
      "yyyy/DDD", "'year'=YYYY/", "'it''s' yyyy-MM-dd", "EEEE, d. MMMM yyyy", "MMMyyyy/dd", "EEE yyyy-MM-dd",
    };
    rows(instants, new long[] {15 * MIN, DAY}, new String[] {"Europe/Berlin", "America/New_York"},
        new String[] {"en", "de"}, patterns);
  }

  public static void main(String[] args) {
    dstSweeps();
    midnights();
    beforeEpoch();
    allFields();
    parseShapes();
    System.out.println("# joda-time " + DateTimeZone.class.getPackage().getImplementationVersion()
        + ", java " + System.getProperty("java.version") + "; regenerate with README.md");
    System.out.println("# ts_ms\tduration_ms\ttimezone\tlocale\tpath_format\tbucket_ms\tfolder");
    for (String r : rows) {
      System.out.println(r);
    }
  }
}
