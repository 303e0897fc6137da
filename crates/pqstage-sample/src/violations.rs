//! The `violations` generator: multi-agency enforcement citations.
//!
//! Every block of [`BLOCK_ROWS`] rows draws from its own PRNG, seeded from
//! `(seed, block index)` only, so blocks can be generated in any order or in
//! parallel. Companies (about [`COMPANIES`] of them) and their sites are pure
//! functions of `(seed, company id)` and are drawn with a skew, so names and
//! addresses repeat like they do in real enforcement data.

use crate::fmt::{
    days_from_civil, push_cents, push_date, push_padded, push_text, push_timestamp, push_u64, title_case,
};
use crate::rng::{derive, splitmix64, Rng};
use crate::words::{
    ADJECTIVES, AGENCIES, AGENCY_CUM, CFR_PARTS, DIRECTIONS, NAICS, NICKNAMES, STATES, STATE_CUM, STREET_NAMES,
    STREET_TYPES, SUFFIXES, SUFFIX_CUM, SURNAMES, TRADES, UNICODE_WORDS, UNITS, VIOL_TYPES, VIOL_TYPE_CUM,
};

/// The columns a removed row's key is written with.
pub(crate) const KEY_COLUMNS: &[&str] = &["activity_nr", "citation_id"];

/// Column names in file order.
pub(crate) const COLUMNS: &[&str] = &[
    "agency",
    "activity_nr",
    "citation_id",
    "company_name",
    "site_address",
    "site_city",
    "site_state",
    "site_zip",
    "naics_code",
    "standard",
    "viol_type",
    "issuance_date",
    "abate_date",
    "current_penalty",
    "initial_penalty",
    "nr_instances",
    "nr_exposed",
    "gravity",
    "emphasis",
    "delete_flag",
    "load_dt",
];

/// Rows per independently seeded block.
pub(crate) const BLOCK_ROWS: u64 = 8192;
/// Number of distinct companies.
pub(crate) const COMPANIES: usize = 200_000;
/// Sites (addresses) per company.
const SITES: usize = 4;

/// First issuance year; issuance dates span `FIRST_YEAR..FIRST_YEAR + YEARS`.
pub(crate) const FIRST_YEAR: i64 = 1975;
const YEARS: usize = 50;
const YEAR_START: [i64; YEARS + 1] = {
    let mut t = [0i64; YEARS + 1];
    let mut i = 0;
    while i <= YEARS {
        t[i] = days_from_civil(FIRST_YEAR + i as i64, 1, 1);
        i += 1;
    }
    t
};
const LOAD_START: i64 = days_from_civil(2015, 1, 1) * 86_400;
const LOAD_END: i64 = days_from_civil(2025, 1, 1) * 86_400;

/// Gravity `00..=10` weights.
const GRAVITY_CUM: [u32; 11] = crate::words::cumulative([3, 20, 6, 5, 2, 25, 3, 3, 3, 2, 28]);
const ROMAN: &[&str] = &["i", "ii", "iii", "iv", "v", "vi"];

// Domain separators so the streams never share keys.
const DOMAIN_BLOCK: u64 = 0x426C_6F63_6B73_0001;
const DOMAIN_COMPANY: u64 = 0x436F_6D70_616E_0002;
const DOMAIN_SITE: u64 = 0x5369_7465_7300_0003;

const DOMAIN_REVISION: u64 = 0x5265_7669_7300_0004;

/// Of every 10,000 rows of the first dump, a revision removes this many
/// (0.2 %), ...
pub(crate) const REMOVED_BP: u64 = 20;
/// ... corrects this many (1 %): the penalty and instance count for most, the
/// issuance date (a year earlier) for one in five ...
pub(crate) const CHANGED_BP: u64 = 100;
/// ... and adds this many new rows after them (0.5 %).
pub(crate) const ADDED_BP: u64 = 50;

/// What a revision does to one row of the first dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    Removed,
    /// Penalties and instance count corrected.
    Corrected,
    /// Issued a year (366 days) earlier than first published.
    Redated,
}

/// Seed-derived keys of the generator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Violations {
    block_key: u64,
    company_key: u64,
    site_key: u64,
    /// Key of the revision's decisions; `None` for the first dump.
    revision_key: Option<u64>,
    /// Rows of the first dump (rows at or past it are a revision's additions).
    base_rows: u64,
    /// What of the dump is written.
    part: Part,
}

/// What of a dump [`crate::write_part`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    /// Every row of the dump.
    #[default]
    Whole,
    /// A revision's corrected and added rows only, whole: the file of new and
    /// updated records some users receive instead of a new dump.
    Changes,
    /// A revision's added rows only: a file that only adds records.
    Added,
    /// The key (`activity_nr,citation_id`) of each row a revision removed.
    RemovedKeys,
}

impl Violations {
    pub(crate) fn new(seed: u64) -> Self {
        Violations {
            block_key: splitmix64(seed ^ DOMAIN_BLOCK),
            company_key: splitmix64(seed ^ DOMAIN_COMPANY),
            site_key: splitmix64(seed ^ DOMAIN_SITE),
            revision_key: None,
            base_rows: u64::MAX,
            part: Part::Whole,
        }
    }

    /// The generator of revision `revision` (1, 2, ...) of the dump of
    /// `rows` rows: the same rows, some removed or corrected, some added.
    pub(crate) fn revised(seed: u64, rows: u64, revision: u64) -> Self {
        let mut v = Self::new(seed);
        if revision > 0 {
            v.revision_key = Some(splitmix64(seed ^ DOMAIN_REVISION ^ splitmix64(revision)));
            v.base_rows = rows;
        }
        v
    }

    /// Row positions a dump generates: the first dump's, plus the added ones.
    pub(crate) fn positions(&self, rows: u64) -> u64 {
        match self.revision_key {
            Some(_) => rows + rows * ADDED_BP / 10_000,
            None => rows,
        }
    }

    fn fate(&self, i: u64) -> Fate {
        let Some(key) = self.revision_key else { return Fate::Kept };
        if i >= self.base_rows {
            return Fate::Kept;
        }
        let u = derive(key, i);
        match u % 10_000 {
            x if x < REMOVED_BP => Fate::Removed,
            x if x < REMOVED_BP + CHANGED_BP && (u >> 32) % 5 == 0 => Fate::Redated,
            x if x < REMOVED_BP + CHANGED_BP => Fate::Corrected,
            _ => Fate::Kept,
        }
    }

    /// The generator writing only `part` of the dump.
    pub(crate) fn with_part(self, part: Part) -> Self {
        Violations { part, ..self }
    }

    /// Whether a row of this fate is written.
    fn written(&self, i: u64, fate: Fate) -> bool {
        match self.part {
            Part::Whole => fate != Fate::Removed,
            Part::Changes => matches!(fate, Fate::Corrected | Fate::Redated) || i >= self.base_rows,
            Part::Added => i >= self.base_rows,
            Part::RemovedKeys => fate == Fate::Removed,
        }
    }

    /// Appends the header line.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>) {
        match self.part {
            Part::RemovedKeys => out.extend_from_slice(KEY_COLUMNS.join(",").as_bytes()),
            _ => out.extend_from_slice(COLUMNS.join(",").as_bytes()),
        }
        out.push(b'\n');
    }

    /// A writer with its own scratch buffers (one per worker thread).
    pub(crate) fn block_writer(&self) -> BlockWriter {
        BlockWriter { gen: *self, name: Vec::with_capacity(64), addr: Vec::with_capacity(64) }
    }
}

/// Writes blocks of rows; holds reusable scratch space.
pub(crate) struct BlockWriter {
    gen: Violations,
    name: Vec<u8>,
    addr: Vec<u8>,
}

/// A company's site: state index, city and ZIP code (address is in scratch).
struct Site {
    state: usize,
    city: &'static str,
    zip: u64,
}

impl BlockWriter {
    /// Appends the rows of positions `block * BLOCK_ROWS ..` (`n <=
    /// BLOCK_ROWS` of them) to `out`; returns how many it wrote (a revision
    /// removes some).
    pub(crate) fn write_block(&mut self, block: u64, n: u64, out: &mut Vec<u8>) -> u64 {
        debug_assert!(n <= BLOCK_ROWS);
        let mut r = Rng::new(derive(self.gen.block_key, block));
        let first = block * BLOCK_ROWS;
        let mut written = 0;
        for i in first..first + n {
            let fate = self.gen.fate(i);
            let start = out.len();
            // Every row is generated, so the rows after one left out draw
            // the same numbers as in the first dump.
            self.row(&mut r, i, fate, out);
            if !self.gen.written(i, fate) {
                out.truncate(start);
                continue;
            }
            written += 1;
            if self.gen.part == Part::RemovedKeys {
                // The row starts `agency,activity_nr,citation_id,`: keep the
                // middle two fields (neither holds a comma or a quote).
                let row = &out[start..];
                let mut commas = row.iter().enumerate().filter(|(_, &b)| b == b',').map(|(i, _)| i);
                let (first, _, third) = (commas.next(), commas.next(), commas.next());
                let key = row[first.expect("a row has columns") + 1..third.expect("a row has columns")].to_vec();
                out.truncate(start);
                out.extend_from_slice(&key);
                out.push(b'\n');
            }
        }
        written
    }

    fn row(&mut self, r: &mut Rng, i: u64, fate: Fate, out: &mut Vec<u8>) {
        // agency, activity_nr
        let a = r.weighted(&AGENCY_CUM);
        let (agency, _, base) = AGENCIES[a];
        out.extend_from_slice(agency.as_bytes());
        out.push(b',');
        push_u64(out, base + i * 7 + r.below(7));
        out.push(b',');

        // citation_id: 2-digit group, 3-digit item, optional letter.
        push_padded::<2>(out, 1 + r.skewed(30, 3) as u64);
        push_padded::<3>(out, 1 + r.skewed(40, 2) as u64);
        if r.hit(3000) {
            out.push(b'A' + r.below(4) as u8);
        }
        out.push(b',');

        // company_name and site_*
        let company = r.skewed(COMPANIES, 2) as u64;
        let naics = self.company(company);
        push_text(out, &self.name);
        out.push(b',');
        let site = self.site(company * SITES as u64 + r.skewed(SITES, 2) as u64);
        push_text(out, &self.addr);
        out.push(b',');
        push_text(out, site.city.as_bytes());
        out.push(b',');
        out.extend_from_slice(STATES[site.state].code.as_bytes());
        out.push(b',');
        push_padded::<5>(out, site.zip);
        out.push(b',');

        // naics_code
        if !r.hit(1000) {
            push_u64(out, u64::from(naics));
        }
        out.push(b',');

        // standard, viol_type
        standard(r, a, out);
        out.push(b',');
        out.extend_from_slice(VIOL_TYPES[r.weighted(&VIOL_TYPE_CUM)].as_bytes());
        out.push(b',');

        // issuance_date (later years more likely), abate_date
        let y =
            if r.hit(5000) { r.below(YEARS as u64) } else { r.below(YEARS as u64).max(r.below(YEARS as u64)) } as usize;
        let issued = YEAR_START[y] + r.below((YEAR_START[y + 1] - YEAR_START[y]) as u64) as i64
            - if fate == Fate::Redated { 366 } else { 0 };
        let issued_known = !r.hit(1);
        if issued_known {
            push_date(out, issued);
        }
        out.push(b',');
        let abate_days = 3 + r.skewed(240, 2) as i64;
        if issued_known && !r.hit(1500) {
            push_date(out, issued + abate_days);
        }
        out.push(b',');

        // current_penalty, initial_penalty
        let initial = penalty(r);
        let current = if r.hit(4500) {
            initial
        } else if r.hit(7000) {
            // reduced by settlement, in whole dollars
            initial * r.range(20, 100) / 10_000 * 100
        } else {
            initial * r.range(20, 100) / 100
        };
        // A correction: the penalty reduced after a contest.
        let current = if fate == Fate::Corrected { current / 2 } else { current };
        if !r.hit(500) {
            push_cents(out, current);
        }
        out.push(b',');
        if !r.hit(500) {
            push_cents(out, initial);
        }
        out.push(b',');

        // nr_instances, nr_exposed
        let instances = if r.hit(7000) { 1 } else { 2 + r.skewed(49, 3) as u64 };
        // Every correction changes the count too, so no corrected row reads
        // as before (a penalty may be missing, or zero).
        let instances = if fate == Fate::Corrected { instances + 1 } else { instances };
        push_u64(out, instances);
        out.push(b',');
        if !r.hit(2000) {
            push_u64(out, r.skewed(5001, 6) as u64);
        }
        out.push(b',');

        // gravity, emphasis, delete_flag
        if !r.hit(3000) {
            push_padded::<2>(out, r.weighted(&GRAVITY_CUM) as u64);
        }
        out.push(b',');
        if !r.hit(6000) {
            out.push(if r.hit(2000) { b'Y' } else { b'N' });
        }
        out.push(b',');
        if r.hit(300) {
            out.push(b'X');
        }
        out.push(b',');

        // load_dt
        push_timestamp(out, LOAD_START + r.below((LOAD_END - LOAD_START) as u64) as i64);
        out.push(b'\n');
    }

    /// Writes company `k`'s name into `self.name`; returns its NAICS code.
    fn company(&mut self, k: u64) -> u32 {
        let mut r = Rng::new(derive(self.gen.company_key, k));
        let name = &mut self.name;
        name.clear();
        let naics = NAICS[r.skewed(NAICS.len(), 2)];
        let title = r.hit(2000);
        let style = r.below(10_000);
        let word = |name: &mut Vec<u8>, s: &str| name.extend_from_slice(s.as_bytes());
        if r.hit(50) {
            // ~0.5%: non-ASCII, e.g. "NUÑEZ ROOFING"
            word(name, r.pick(UNICODE_WORDS));
        } else if style < 100 {
            // ~1%: quoted nickname, e.g. "\"BIG JOE\" CONSTRUCTION"
            name.push(b'"');
            word(name, r.pick(NICKNAMES));
            name.push(b'"');
        } else if style < 300 {
            // ~2% (+ "SAND & GRAVEL"): ampersand
            word(name, r.pick(SURNAMES));
            name.extend_from_slice(b" & ");
            if r.hit(3000) {
                word(name, "SONS");
            } else {
                word(name, r.pick(SURNAMES));
            }
        } else if style < 2500 {
            word(name, r.pick(ADJECTIVES));
        } else if style < 3100 {
            word(name, r.pick(SURNAMES));
            word(name, if r.hit(5000) { " BROTHERS" } else { " BROS" });
        } else if style < 3700 {
            for _ in 0..3 {
                name.push(b'A' + r.below(26) as u8);
            }
        } else {
            word(name, r.pick(SURNAMES));
        }
        // One-word starts always name a trade ("AMERICAN ROOFING"); others
        // may stand alone ("SMITH & SONS", "\"BIG JOE\" INC").
        let with_trade = style >= 300 || r.hit(6500);
        if with_trade {
            name.push(b' ');
            word(name, r.pick(TRADES));
        }
        if title {
            title_case(name);
        }
        if !with_trade || r.hit(7000) {
            // 7.1% of ~70% = 5% "ACME ROOFING, INC."
            name.extend_from_slice(if r.hit(714) { b", " } else { b" " });
            word(name, SUFFIXES[r.weighted(&SUFFIX_CUM)]);
        }
        naics
    }

    /// Writes the street address of site `key` into `self.addr`.
    fn site(&mut self, key: u64) -> Site {
        let mut r = Rng::new(derive(self.gen.site_key, key));
        let addr = &mut self.addr;
        addr.clear();
        if r.hit(300) {
            addr.extend_from_slice(b"PO BOX ");
            push_u64(addr, 1 + r.below(9999));
        } else {
            push_u64(addr, 1 + r.skewed(9_999, 3) as u64);
            addr.push(b' ');
            if r.hit(1000) {
                addr.extend_from_slice(r.pick(DIRECTIONS).as_bytes());
                addr.push(b' ');
            }
            addr.extend_from_slice(r.pick(STREET_NAMES).as_bytes());
            addr.push(b' ');
            addr.extend_from_slice(r.pick(STREET_TYPES).as_bytes());
            if r.hit(50) {
                // ~0.5%: second address line, e.g. "123 MAIN ST\nSUITE 4"
                addr.extend_from_slice(b"\nSUITE ");
                push_u64(addr, 1 + r.below(400));
            } else if r.hit(400) {
                addr.push(b' ');
                addr.extend_from_slice(r.pick(UNITS).as_bytes());
                addr.push(b' ');
                push_u64(addr, 1 + r.below(400));
            } else if r.hit(100) {
                addr.extend_from_slice(b", BLDG ");
                push_u64(addr, 1 + r.below(20));
            }
        }
        let state = r.weighted(&STATE_CUM);
        let s = &STATES[state];
        let city = r.pick(s.cities);
        let zip = r.range(s.zip3.0, s.zip3.1) * 100 + r.below(100);
        Site { state, city, zip }
    }
}

/// Appends a regulation citation in OSHA IMIS style (`19100134 C01`) or CFR
/// style (`1926.501(b)(13)`).
fn standard(r: &mut Rng, agency: usize, out: &mut Vec<u8>) {
    let part = u64::from(r.pick(CFR_PARTS[agency]));
    let section = 1 + r.skewed(1200, 3) as u64;
    if agency == 0 && r.hit(5000) {
        push_u64(out, part);
        push_padded::<4>(out, section);
        out.push(b' ');
        out.push(b'A' + r.skewed(12, 2) as u8);
        push_padded::<2>(out, 1 + r.skewed(20, 2) as u64);
        return;
    }
    push_u64(out, part);
    out.push(b'.');
    push_u64(out, section);
    let depth = [0, 1, 1, 1, 2, 2, 2, 3][r.below(8) as usize];
    if depth >= 1 {
        out.push(b'(');
        out.push(b'a' + r.skewed(12, 2) as u8);
        out.push(b')');
    }
    if depth >= 2 {
        out.push(b'(');
        push_u64(out, 1 + r.skewed(20, 2) as u64);
        out.push(b')');
    }
    if depth >= 3 {
        out.push(b'(');
        out.extend_from_slice(r.pick(ROMAN).as_bytes());
        out.push(b')');
    }
}

/// A penalty in cents: 12% zero, else log-uniform $10..$100,000 plus a rare
/// tail up to just under $10,000,000.
fn penalty(r: &mut Rng) -> u64 {
    if r.hit(1200) {
        return 0;
    }
    let exponent = if r.hit(20) { 5.0 + 1.99 * r.unit() } else { 1.0 + 4.0 * r.unit() };
    let dollars = 10f64.powf(exponent) as u64;
    let cents = match r.below(10) {
        0 => 50,
        1 => r.below(100),
        _ => 0,
    };
    (dollars * 100 + cents).min(999_999_999)
}
