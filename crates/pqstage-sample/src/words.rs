//! Word lists and lookup tables for the generators.
//!
//! Everything here is plain data; weights are turned into cumulative tables
//! at compile time by [`cumulative`].

/// Turns weights into cumulative weights (for [`crate::rng::Rng::weighted`]).
pub(crate) const fn cumulative<const N: usize>(weights: [u32; N]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut total = 0;
    let mut i = 0;
    while i < N {
        total += weights[i];
        out[i] = total;
        i += 1;
    }
    out
}

/// Agency name, relative weight, first activity number.
pub(crate) const AGENCIES: [(&str, u32, u64); 8] = [
    ("OSHA", 620, 300_000_000),
    ("MSHA", 110, 4_000_000_000),
    ("WHD", 90, 1_500_000_000),
    ("EPA", 70, 900_000_000),
    ("FDA", 45, 2_600_000_000),
    ("NLRB", 30, 100_000_000),
    ("OFCCP", 20, 7_700_000_000),
    ("FRA", 15, 5_200_000_000),
];

pub(crate) const AGENCY_CUM: [u32; 8] = {
    let mut w = [0u32; 8];
    let mut i = 0;
    while i < 8 {
        w[i] = AGENCIES[i].1;
        i += 1;
    }
    cumulative(w)
};

/// Violation types S, O, W, R, U and their weights.
pub(crate) const VIOL_TYPES: [&str; 5] = ["S", "O", "W", "R", "U"];
pub(crate) const VIOL_TYPE_CUM: [u32; 5] = cumulative([58, 33, 3, 4, 2]);

pub(crate) const SURNAMES: &[&str] = &[
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
    "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON",
    "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE",
    "HARRIS", "SANCHEZ", "CLARK", "RAMIREZ", "LEWIS", "ROBINSON", "WALKER", "YOUNG",
    "ALLEN", "KING", "WRIGHT", "SCOTT", "TORRES", "NGUYEN", "HILL", "FLORES", "GREEN",
    "ADAMS", "NELSON", "BAKER", "HALL", "RIVERA", "CAMPBELL", "MITCHELL", "CARTER",
    "ROBERTS", "GOMEZ", "PHILLIPS", "EVANS", "TURNER", "DIAZ", "PARKER", "CRUZ", "EDWARDS",
    "COLLINS", "REYES", "STEWART", "MORRIS", "MORALES", "MURPHY", "COOK", "ROGERS",
    "GUTIERREZ", "ORTIZ", "MORGAN", "COOPER", "PETERSON", "BAILEY", "REED", "KELLY",
    "HOWARD", "RAMOS", "KIM", "COX", "WARD", "RICHARDSON", "WATSON", "BROOKS", "CHAVEZ",
    "WOOD", "JAMES", "BENNETT", "GRAY", "MENDOZA", "RUIZ", "HUGHES", "PRICE", "ALVAREZ",
    "CASTILLO", "SANDERS", "PATEL", "MYERS", "LONG", "ROSS", "FOSTER", "JIMENEZ",
    "O'BRIEN", "O'CONNOR", "MCDONALD", "KOWALSKI", "SCHMIDT", "WAGNER", "BECKER",
    "HOFFMAN", "KRAUSE", "DUPONT", "LAFLEUR", "NOVAK", "YAMAMOTO", "CHEN", "WANG", "LI",
    "SINGH", "KHAN", "ROMANO", "RUSSO", "COSTA",
];

/// Words with non-ASCII letters (upper case; title casing keeps them valid UTF-8).
pub(crate) const UNICODE_WORDS: &[&str] = &[
    "NUÑEZ", "MÜLLER", "PEÑA", "IBÁÑEZ", "GONZÁLEZ", "CAFÉ", "SCHRÖDER", "BÉLANGER",
    "FRANÇOIS", "MUÑOZ", "JOSÉ", "CÔTÉ", "GÓMEZ", "BJÖRK", "PÂTISSERIE", "ÉCLAIR",
];

pub(crate) const ADJECTIVES: &[&str] = &[
    "AMERICAN", "NATIONAL", "UNITED", "GENERAL", "PACIFIC", "ATLANTIC", "SOUTHERN",
    "NORTHERN", "WESTERN", "EASTERN", "MIDWEST", "CENTRAL", "ALLIED", "PREMIER", "QUALITY",
    "PRECISION", "SUPERIOR", "ADVANCED", "RELIABLE", "CLASSIC", "EAGLE", "LIBERTY",
    "PATRIOT", "PIONEER", "SUMMIT", "KEYSTONE", "COASTAL", "MOUNTAIN", "VALLEY", "RIVER",
    "LAKESIDE", "PRAIRIE", "GOLDEN", "SILVER", "BLUE RIDGE", "RED OAK", "GREEN LEAF",
    "TRI-STATE", "METRO", "CITY", "COUNTY", "STATEWIDE", "FIRST", "ACME", "APEX", "DELTA",
    "OMEGA", "TITAN", "ATLAS", "STERLING",
];

pub(crate) const TRADES: &[&str] = &[
    "CONSTRUCTION", "ROOFING", "BUILDERS", "CONTRACTORS", "ELECTRIC", "PLUMBING",
    "MECHANICAL", "CONCRETE", "MASONRY", "EXCAVATING", "PAVING", "STEEL", "IRON WORKS",
    "FRAMING", "DRYWALL", "PAINTING", "LANDSCAPING", "DEMOLITION", "WELDING", "FAB", "MFG",
    "MANUFACTURING", "FOODS", "POULTRY", "MEATS", "DAIRY", "BAKERY", "CAFE", "HOTEL",
    "HEALTH", "NURSING", "LOGISTICS", "TRUCKING", "FREIGHT", "SUPPLY", "RECYCLING",
    "WASTE", "MINING", "QUARRY", "SAND & GRAVEL", "COAL", "LUMBER", "SAWMILL", "PLASTICS",
    "CHEMICAL", "FOUNDRY", "MACHINE", "AUTO BODY", "TIRE", "STAFFING", "JANITORIAL",
    "SECURITY", "UTILITIES", "RAIL", "ENERGY", "OILFIELD", "DRILLING", "HVAC", "GLASS",
    "FLOORING", "INDUSTRIES", "ENTERPRISES", "SERVICES", "GROUP", "BUILDING", "HOMES",
    "FARMS", "TOOLING", "PALLET", "PACKAGING",
];

/// Nicknames used as `"BIG JOE" CONSTRUCTION` (the quotes are added when used).
pub(crate) const NICKNAMES: &[&str] = &[
    "BIG JOE", "RED", "BUD", "SKIP", "DOC", "ACE", "SLIM", "TEX", "BUBBA", "LUCKY",
    "SPARKY", "DUKE",
];

/// Legal suffixes, in the spellings that appear in real data.
pub(crate) const SUFFIXES: &[&str] = &[
    "INC", "INC.", "Inc.", "LLC", "L.L.C.", "LLC.", "CORP", "CORP.", "Corporation",
    "CORPORATION", "CO", "CO.", "Co.", "COMPANY", "LTD", "LTD.", "LP", "L.P.", "PLLC",
    "LLP", "PC", "INCORPORATED",
];
pub(crate) const SUFFIX_CUM: [u32; 22] = cumulative([
    240, 160, 50, 260, 15, 10, 60, 30, 15, 10, 25, 20, 8, 15, 12, 8, 10, 4, 6, 4, 4, 14,
]);

pub(crate) const STREET_NAMES: &[&str] = &[
    "MAIN", "OAK", "PINE", "MAPLE", "CEDAR", "ELM", "WASHINGTON", "LAKE", "HILL", "PARK",
    "WALNUT", "CHURCH", "MARKET", "HIGH", "CENTER", "MILL", "RIVER", "BROAD", "SPRING",
    "WATER", "UNION", "FRONT", "JEFFERSON", "LINCOLN", "MADISON", "FRANKLIN", "JACKSON",
    "MONROE", "INDUSTRIAL", "COMMERCE", "ENTERPRISE", "AIRPORT", "RAILROAD", "FACTORY",
    "DEPOT", "HARBOR", "BAY", "RIDGE", "VALLEY", "SUNSET", "CHERRY", "HICKORY", "WILLOW",
    "BIRCH", "CYPRESS", "MAGNOLIA", "PEACHTREE", "COLLEGE", "STATE", "COUNTY LINE",
    "OLD MILL", "MLK JR", "1ST", "2ND", "3RD", "4TH", "5TH", "10TH", "12TH", "42ND",
    "ROUTE 9", "US 41", "BROADWAY", "CANAL", "DOCK",
];
pub(crate) const STREET_TYPES: &[&str] = &[
    "ST", "AVE", "RD", "BLVD", "DR", "LN", "HWY", "WAY", "PKWY", "CT", "PL", "PIKE",
];
pub(crate) const DIRECTIONS: &[&str] = &["N", "S", "E", "W", "NE", "SW"];
pub(crate) const UNITS: &[&str] = &["STE", "SUITE", "UNIT", "BLDG", "DOCK", "FL"];

/// State code, weight (population, 100k), zip-3 prefix range, cities.
pub(crate) struct State {
    pub(crate) code: &'static str,
    pub(crate) weight: u32,
    pub(crate) zip3: (u64, u64),
    pub(crate) cities: &'static [&'static str],
}

const fn st(code: &'static str, weight: u32, lo: u64, hi: u64, cities: &'static [&'static str]) -> State {
    State { code, weight, zip3: (lo, hi), cities }
}

pub(crate) const STATES: [State; 53] = [
    st("AL", 51, 350, 369, &["BIRMINGHAM", "MONTGOMERY", "MOBILE", "HUNTSVILLE"]),
    st("AK", 7, 995, 999, &["ANCHORAGE", "FAIRBANKS", "JUNEAU"]),
    st("AZ", 74, 850, 865, &["PHOENIX", "TUCSON", "MESA", "CHANDLER", "FLAGSTAFF"]),
    st("AR", 30, 716, 729, &["LITTLE ROCK", "FORT SMITH", "FAYETTEVILLE", "SPRINGDALE"]),
    st("CA", 390, 900, 961, &[
        "LOS ANGELES", "SAN DIEGO", "SAN JOSE", "SAN FRANCISCO", "FRESNO", "SACRAMENTO",
        "LONG BEACH", "OAKLAND", "BAKERSFIELD", "ANAHEIM", "RIVERSIDE", "STOCKTON",
        "SAN BERNARDINO", "LA CAÑADA FLINTRIDGE",
    ]),
    st("CO", 58, 800, 816, &["DENVER", "COLORADO SPRINGS", "AURORA", "PUEBLO", "CAÑON CITY"]),
    st("CT", 36, 60, 69, &["HARTFORD", "NEW HAVEN", "BRIDGEPORT", "STAMFORD", "WATERBURY"]),
    st("DE", 10, 197, 199, &["WILMINGTON", "DOVER", "NEWARK"]),
    st("DC", 7, 200, 205, &["WASHINGTON"]),
    st("FL", 220, 320, 349, &[
        "JACKSONVILLE", "MIAMI", "TAMPA", "ORLANDO", "ST. PETERSBURG", "HIALEAH",
        "TALLAHASSEE", "FORT LAUDERDALE", "PENSACOLA",
    ]),
    st("GA", 110, 300, 319, &["ATLANTA", "AUGUSTA", "COLUMBUS", "SAVANNAH", "MACON", "DALTON"]),
    st("HI", 14, 967, 968, &["HONOLULU", "HILO", "KAILUA"]),
    st("ID", 19, 832, 838, &["BOISE", "NAMPA", "IDAHO FALLS", "POCATELLO"]),
    st("IL", 126, 600, 629, &["CHICAGO", "AURORA", "ROCKFORD", "JOLIET", "PEORIA", "SPRINGFIELD"]),
    st("IN", 68, 460, 479, &["INDIANAPOLIS", "FORT WAYNE", "EVANSVILLE", "SOUTH BEND", "GARY"]),
    st("IA", 32, 500, 528, &["DES MOINES", "CEDAR RAPIDS", "DAVENPORT", "SIOUX CITY"]),
    st("KS", 29, 660, 679, &["WICHITA", "OVERLAND PARK", "KANSAS CITY", "TOPEKA"]),
    st("KY", 45, 400, 427, &["LOUISVILLE", "LEXINGTON", "BOWLING GREEN", "PIKEVILLE"]),
    st("LA", 46, 700, 714, &["NEW ORLEANS", "BATON ROUGE", "SHREVEPORT", "LAFAYETTE"]),
    st("ME", 14, 39, 49, &["PORTLAND", "LEWISTON", "BANGOR", "AUGUSTA"]),
    st("MD", 62, 206, 219, &["BALTIMORE", "FREDERICK", "ROCKVILLE", "HAGERSTOWN"]),
    st("MA", 70, 10, 27, &[
        "BOSTON", "WORCESTER", "SPRINGFIELD", "LOWELL", "CAMBRIDGE", "NEW BEDFORD",
    ]),
    st("MI", 100, 480, 499, &["DETROIT", "GRAND RAPIDS", "WARREN", "LANSING", "FLINT"]),
    st("MN", 57, 550, 567, &["MINNEAPOLIS", "ST. PAUL", "ROCHESTER", "DULUTH"]),
    st("MS", 29, 386, 397, &["JACKSON", "GULFPORT", "HATTIESBURG", "TUPELO"]),
    st("MO", 62, 630, 658, &["KANSAS CITY", "ST. LOUIS", "SPRINGFIELD", "COLUMBIA"]),
    st("MT", 11, 590, 599, &["BILLINGS", "MISSOULA", "GREAT FALLS", "BUTTE"]),
    st("NE", 20, 680, 693, &["OMAHA", "LINCOLN", "GRAND ISLAND"]),
    st("NV", 32, 889, 898, &["LAS VEGAS", "HENDERSON", "RENO", "ELKO"]),
    st("NH", 14, 30, 38, &["MANCHESTER", "NASHUA", "CONCORD"]),
    st("NJ", 93, 70, 89, &["NEWARK", "JERSEY CITY", "PATERSON", "ELIZABETH", "TRENTON", "CAMDEN"]),
    st("NM", 21, 870, 884, &["ALBUQUERQUE", "LAS CRUCES", "SANTA FE", "ESPAÑOLA"]),
    st("NY", 200, 100, 149, &[
        "NEW YORK", "BROOKLYN", "BUFFALO", "ROCHESTER", "YONKERS", "SYRACUSE", "ALBANY",
        "BRONX",
    ]),
    st("NC", 107, 270, 289, &["CHARLOTTE", "RALEIGH", "GREENSBORO", "DURHAM", "WINSTON-SALEM"]),
    st("ND", 8, 580, 588, &["FARGO", "BISMARCK", "GRAND FORKS", "WILLISTON"]),
    st("OH", 118, 430, 459, &["COLUMBUS", "CLEVELAND", "CINCINNATI", "TOLEDO", "AKRON", "DAYTON"]),
    st("OK", 40, 730, 749, &["OKLAHOMA CITY", "TULSA", "NORMAN", "LAWTON"]),
    st("OR", 42, 970, 979, &["PORTLAND", "SALEM", "EUGENE", "MEDFORD"]),
    st("PA", 130, 150, 196, &[
        "PHILADELPHIA", "PITTSBURGH", "ALLENTOWN", "ERIE", "READING", "SCRANTON", "HARRISBURG",
    ]),
    st("PR", 32, 6, 9, &["SAN JUAN", "BAYAMÓN", "CAROLINA", "PONCE", "CAGUAS", "MAYAGÜEZ"]),
    st("RI", 11, 28, 29, &["PROVIDENCE", "WARWICK", "CRANSTON", "PAWTUCKET"]),
    st("SC", 53, 290, 299, &["COLUMBIA", "CHARLESTON", "GREENVILLE", "SPARTANBURG"]),
    st("SD", 9, 570, 577, &["SIOUX FALLS", "RAPID CITY", "ABERDEEN"]),
    st("TN", 70, 370, 385, &["NASHVILLE", "MEMPHIS", "KNOXVILLE", "CHATTANOOGA"]),
    st("TX", 300, 750, 799, &[
        "HOUSTON", "SAN ANTONIO", "DALLAS", "AUSTIN", "FORT WORTH", "EL PASO", "ARLINGTON",
        "CORPUS CHRISTI", "LAREDO", "LUBBOCK", "MIDLAND",
    ]),
    st("UT", 34, 840, 847, &["SALT LAKE CITY", "WEST VALLEY CITY", "PROVO", "OGDEN"]),
    st("VT", 6, 50, 59, &["BURLINGTON", "RUTLAND", "MONTPELIER"]),
    st("VA", 87, 220, 246, &["VIRGINIA BEACH", "NORFOLK", "RICHMOND", "CHESAPEAKE", "ROANOKE"]),
    st("WA", 78, 980, 994, &["SEATTLE", "SPOKANE", "TACOMA", "VANCOUVER", "EVERETT"]),
    st("WV", 18, 247, 268, &["CHARLESTON", "HUNTINGTON", "MORGANTOWN", "BECKLEY"]),
    st("WI", 59, 530, 549, &["MILWAUKEE", "MADISON", "GREEN BAY", "KENOSHA"]),
    st("WY", 6, 820, 831, &["CHEYENNE", "CASPER", "GILLETTE"]),
    // Holtsville, NY: the lowest ZIP code in use (00501).
    st("NY", 1, 5, 5, &["HOLTSVILLE"]),
];

pub(crate) const STATE_CUM: [u32; 53] = {
    let mut w = [0u32; 53];
    let mut i = 0;
    while i < 53 {
        w[i] = STATES[i].weight;
        i += 1;
    }
    cumulative(w)
};

/// Real 6-digit NAICS codes, most common first.
pub(crate) const NAICS: &[u32] = &[
    236220, 238160, 236118, 238210, 238110, 238220, 238990, 236115, 238310, 238120, 238320,
    238910, 237310, 237110, 238140, 238190, 332710, 332312, 311612, 311615, 311611, 321113,
    326199, 331511, 336390, 333111, 325211, 327390, 484121, 493110, 423510, 562111, 562920,
    722511, 721110, 623110, 622110, 561320, 561720, 212312, 212321, 212111, 211120, 213112,
    221122, 482111, 445110, 452311, 311999, 312120, 337110, 339113, 335931, 322211, 324121,
    811111, 811121, 531110, 541330, 611110,
];

/// Code of Federal Regulations parts cited by each agency (same order as [`AGENCIES`]).
pub(crate) const CFR_PARTS: [&[u32]; 8] = [
    &[1910, 1926, 1904, 1915, 1917, 1928],
    &[56, 57, 75, 77, 48],
    &[516, 570, 825, 778],
    &[262, 265, 112, 122, 68],
    &[117, 110, 820, 211],
    &[102, 101],
    &[60, 741],
    &[213, 214, 218, 229, 240],
];
