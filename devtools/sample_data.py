"""A deterministic generator of "sample sales data" exports (the 25 columns of the Kaggle file).

The bundled sample (``data/sample_sales_data.csv``) and the benchmark files come from here:
``write_csv(path, n_lines=3000, seed=2003)`` writes exactly the committed sample. The data are
invented but shaped like the real export: a vehicle-model wholesaler's order lines, ~90 business
customers in 19 countries, Jan 2003 to May 2005, a few heavy buyers among many occasional ones,
every status of the export, phones written the way people write them in each country (some of
them invalid), street names with non-ASCII letters, and the file in Windows-1252 with CRLF, as the
legacy export was.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from vehicle_sales.common.columns import COLUMNS

ENCODING = "cp1252"  # the legacy code page of the original export
SAMPLE_LINES = 3000
SAMPLE_SEED = 2003
SAMPLE_CUSTOMERS = 92
FIRST_DAY = date(2003, 1, 6)
LAST_DAY = date(2005, 5, 31)

# country -> (territory, [(address, city, state, postal)], phone formats, last names, first names,
#             company-name suffixes). In a phone format "#" is a random digit, "A" one from 2 to 9.
COUNTRIES: dict[str, tuple] = {
    "USA": (
        "NA",
        [
            ("897 Long Airport Avenue", "NYC", "NY", "10022"),
            ("7734 Strong St.", "San Francisco", "CA", "94117"),
            ("149 Spinnaker Dr.", "New Haven", "CT", "97823"),
            ("4658 Baden Av.", "Cambridge", "MA", "51247"),
            ("2678 Kingston Rd.", "Las Vegas", "NV", "83030"),
            ("5557 North Pendale Street", "Philadelphia", "PA", "71270"),
            ("3086 Ingle Ln.", "Los Angeles", "CA", "94019"),
            ("361 Furth Circle", "San Diego", "CA", "91217"),
            ("78934 Hillside Dr.", "Burlingame", "CA", "94217"),
            ("4097 Douglas Av.", "Glendale", "CA", "92561"),
            ("7476 Moss Rd.", "Newark", "NJ", "94019"),
            ("25593 South Bay Ln.", "Bridgewater", "CT", "97562"),
            ("16780 Pompton St.", "Brickhaven", "MA", "58339"),
            ("2304 Long Airport Avenue", "Nashua", "NH", "62005"),
        ],
        ["(A##) 555-####", "A##-555-####", "A##.555.####", "A##555####", "+1 A## 555 ####", "1-A##-555-####"],
        [
            "Young",
            "Brown",
            "Frick",
            "Hirano",
            "Murphy",
            "King",
            "Taylor",
            "Yu",
            "Benitez",
            "Thompson",
            "Chandler",
        ],
        [
            "Jeff",
            "Julie",
            "Michael",
            "Juri",
            "Leslie",
            "Sue",
            "Valarie",
            "Kyung",
            "Violeta",
            "Steve",
            "Maria",
        ],
        ["Inc.", "Co.", "Corp.", "LLC"],
    ),
    "France": (
        "EMEA",
        [
            ("54, rue Royale", "Nantes", "", "44000"),
            ("265, boulevard Charonne", "Paris", "", "75012"),
            ("67, rue des Cinquante Otages", "Nantes", "", "44000"),
            ("12, rue des Bouchers", "Marseille", "", "13008"),
            ("2, rue du Commerce", "Lyon", "", "69004"),
            ("25, rue Lauriston", "Paris", "", "75016"),
            ("184, chaussée de Tournai", "Lille", "", "59000"),
            ("1 rue Alsace-Lorraine", "Toulouse", "", "31000"),
            ("59 rue de l'Abbaye", "Reims", "", "51100"),
            ("6, place de la Bastille", "Strasbourg", "", "67000"),
        ],
        ["40.32.####", "(1) 47.55.####", "0# ## ## ## ##", "+33 # ## ## ## ##", "0033 # ## ## ## ##"],
        ["Labrune", "Schmitt", "Lefèvre", "Dupont", "Bertrand", "Rancé", "Perrier", "Hénault", "Moreau"],
        ["Janine", "Carine", "Frédérique", "Annette", "Marie", "Daniel", "Martine", "Jérôme", "Laurence"],
        ["S.A.", "SARL", "& Cie"],
    ),
    "Spain": (
        "EMEA",
        [
            ("Rambla de Cataluña, 23", "Barcelona", "", "08022"),
            ("C/ Moralzarzal, 86", "Madrid", "", "28034"),
            ("Gran Vía, 1", "Madrid", "", "28001"),
            ("C/ Araquil, 67", "Madrid", "", "28023"),
            ("Avda. de la Constitución 2222", "Sevilla", "", "41001"),
            ("Plaza de España 9", "Málaga", "", "29001"),
        ],
        ["(91) 555 ## ##", "+34 9## ### ###", "93 ### ####", "91-###-####"],
        ["Freyre", "Sommer", "Saavedra", "Roel", "Muñoz", "Peña", "Ibáñez"],
        ["Diego", "Martín", "Eduardo", "José Pedro", "Begoña", "Ángel", "Núria"],
        ["S.L.", "S.A."],
    ),
    "Germany": (
        "EMEA",
        [
            ("Mehrheimerstr. 369", "Köln", "", "50739"),
            ("Taucherstraße 10", "Cunewalde", "", "01307"),
            ("Heerstr. 22", "Leipzig", "", "04179"),
            ("Berliner Platz 43", "München", "", "80805"),
            ("Maubelstr. 90", "Brandenburg", "", "14776"),
        ],
        ["0221-555####", "+49 69 ## ## ####", "(089) 555 ####", "0341-######"],
        ["Keitel", "Müller", "Pfalzheim", "Ottlieb", "Groß", "Schröder"],
        ["Henriette", "Jürgen", "Alexander", "Renate", "Horst", "Uwe"],
        ["GmbH", "AG", "KG"],
    ),
    "Sweden": (
        "EMEA",
        [
            ("Berguvsvägen 8", "Luleå", "", "S-958 22"),
            ("Åkergatan 24", "Bräcke", "", "S-844 67"),
            ("Sveavägen 44", "Stockholm", "", "113 59"),
            ("Kungsgatan 12", "Göteborg", "", "411 19"),
        ],
        ["0921-12 ####", "+46 8 555 ## ##", "0695-34 ####", "08-### ## ##"],
        ["Berglund", "Larsson", "Åström", "Nyström", "Söderberg"],
        ["Christina", "Maria", "Björn", "Åsa", "Göran"],
        ["AB", "HB"],
    ),
    "Norway": (
        "EMEA",
        [
            ("Erling Skakkes gate 78", "Stavern", "", "4110"),
            ("Drammensveien 126A", "Oslo", "", "N 0106"),
            ("Storgata 5", "Bergen", "", "N 5003"),
            ("Kongens gate 14", "Trondheim", "", "7011"),
        ],
        ["07-98 ####", "+47 22## ####", "22 ## ## ##", "(0)55 ## ## ##"],
        ["Pedersen", "Klaeboe", "Bergulfsen", "Hansen", "Søreide"],
        ["Jan", "Jonas", "Tone", "Øystein", "Kari"],
        ["AS", "ASA"],
    ),
    "Denmark": (
        "EMEA",
        [
            ("Vinbæltet 34", "København", "", "1734"),
            ("Smagsløget 45", "Århus", "", "8200"),
            ("Nørrebrogade 20", "Odense", "", "5000"),
        ],
        ["31 12 ####", "+45 86 21 ####", "86 ## ## ##"],
        ["Petersen", "Jørgensen", "Møller", "Kjær"],
        ["Jytte", "Søren", "Palle", "Mette"],
        ["ApS", "A/S"],
    ),
    "Finland": (
        "EMEA",
        [
            ("Torikatu 38", "Oulu", "", "90110"),
            ("Keskuskatu 45", "Helsinki", "", "21240"),
            ("Merikatu 9", "Espoo", "", "FIN-02271"),
            ("Hämeenkatu 12", "Tampere", "", "33100"),
        ],
        ["90-224 ####", "+358 9 8555 ###", "981-44####", "(09) ### ####"],
        ["Koskitalo", "Karttunen", "Suominen", "Mäkinen", "Häkkinen"],
        ["Pirkko", "Matti", "Kalle", "Päivi", "Jyrki"],
        ["Oy", "Oyj"],
    ),
    "Italy": (
        "EMEA",
        [
            ("Via Ludovico il Moro 22", "Bergamo", "", "24100"),
            ("Via Monte Bianco 34", "Torino", "", "10100"),
            ("Strada Provinciale 124", "Reggio Emilia", "", "42100"),
            ("Corso Venezia 58", "Milano", "", "20121"),
        ],
        ["035-640###", "+39 011 49#####", "0522-556###", "02 #### ####"],
        ["Accorti", "Rovelli", "Cassini", "Ferrari", "Nicolò"],
        ["Paolo", "Giovanni", "Maurizio", "Giulia", "Niccolò"],
        ["S.r.l.", "S.p.A."],
    ),
    "Austria": (
        "EMEA",
        [
            ("Geislweg 14", "Salzburg", "", "5020"),
            ("Kirchgasse 6", "Graz", "", "8010"),
            ("Mariahilfer Straße 77", "Wien", "", "1060"),
        ],
        ["7675-3###", "+43 662 85 ####", "0316 555 ####"],
        ["Pipps", "Mendel", "Gruber", "Hübner"],
        ["Georg", "Roland", "Lukas", "Brigitte"],
        ["GmbH", "KG"],
    ),
    "Switzerland": (
        "EMEA",
        [
            ("Grenzacherweg 237", "Genève", "", "1203"),
            ("Hauptstr. 29", "Bern", "", "3012"),
        ],
        ["0452-076###", "+41 31 555 ## ##", "022 555 ## ##"],
        ["Holz", "Zürcher", "Favre"],
        ["Michael", "Réne", "Andrea"],
        ["AG", "SA"],
    ),
    "Belgium": (
        "EMEA",
        [
            ("Rue Joseph-Bens 532", "Bruxelles", "", "B-1180"),
            ("Boulevard Tirou, 255", "Charleroi", "", "B-6000"),
        ],
        ["(071) 23 67 ####", "+32 2 201 ## ##", "(02) 201 ## ##"],
        ["Cartrain", "Dewey", "Lemaître"],
        ["Pascale", "Catherine", "Anaïs"],
        ["SPRL", "NV"],
    ),
    "UK": (
        "EMEA",
        [
            ("Fauntleroy Circus", "Manchester", "", "EC2 5NT"),
            ("35 King George", "London", "", "WX3 6FW"),
            ("Berkeley Gardens 12  Brewery", "Liverpool", "", "WX1 6LT"),
            ("12 Orchestra Terrace", "Cowes", "", "PO31 7PJ"),
        ],
        ["(171) 555-####", "+44 20 7555 ####", "020 7555 ####", "0161 555 ####", "07### ######"],
        ["Ashworth", "Devon", "Smith", "O'Hara", "Bennett"],
        ["Victoria", "Elizabeth", "Helen", "Patrick", "Thomas"],
        ["Ltd", "plc"],
    ),
    "Ireland": (
        "EMEA",
        [
            ("8 Johnstown Road", "Cork", "Co. Cork", ""),
            ("25 Maiden Lane", "Dublin", "", "2"),
        ],
        ["2967 ###", "+353 1 862 ####", "(021) 496 ####"],
        ["McKenna", "Ó Súilleabháin", "Byrne"],
        ["Patricia", "Dean", "Siobhán"],
        ["Ltd", "Teoranta"],
    ),
    "Canada": (
        "NA",
        [
            ("1900 Oak St.", "Vancouver", "BC", "V3F 2K1"),
            ("43 rue St. Laurent", "Montréal", "Québec", "H1J 1C3"),
            ("23 Tsawassen Blvd.", "Tsawassen", "BC", "T2F 8M4"),
        ],
        ["(604) 555-####", "514-555-####", "+1 604 555 ####"],
        ["Tannamuri", "Fresnière", "Tremblay"],
        ["Yoshi", "Jean", "Élise"],
        ["Inc.", "Ltée"],
    ),
    "Australia": (
        "APAC",
        [
            ("Monitor Money Building, 815 Pacific Hwy", "Chatswood", "NSW", "2067"),
            ("636 St Kilda Road", "Melbourne", "Victoria", "3004"),
            ("201 Miller Street", "North Sydney", "NSW", "2060"),
            ("Suite 101, 12 Queen St", "Glen Waverly", "Victoria", "3150"),
            ("7 Allen Street", "South Brisbane", "Queensland", "4101"),
        ],
        ["03 9520 ####", "+61 2 9495 ####", "(02) 9936 ####", "61-7-3844-####"],
        ["Ferguson", "O'Hara", "Huxley", "Calaghan", "Connery"],
        ["Peter", "Anna", "Adrian", "Tony", "Sean"],
        ["Pty Ltd", "Co."],
    ),
    "Japan": (
        "Japan",
        [
            ("1-6-20 Dojima", "Kita-ku", "Osaka", "530-0003"),
            ("2-2-8 Roppongi", "Minato-ku", "Tokyo", "106-0032"),
        ],
        ["+81 3 3584 ####", "06-6342-####", "03-3584-####"],
        ["Shimamura", "Kentary", "Tanaka"],
        ["Akiko", "Mory", "Hiroshi"],
        ["Co., Ltd.", "K.K."],
    ),
    "Singapore": (
        "APAC",
        [
            ("Bronz Apt. 3/6 Tesvikiye", "Singapore", "", "079903"),
            ("106 Linden Road Sandown", "Singapore", "", "069045"),
        ],
        ["+65 6221 ####", "6562-####", "65 6224 ####"],
        ["Natividad", "Wong", "Lim"],
        ["Eric", "Wendy", "Mei Ling"],
        ["Pte Ltd"],
    ),
    "Philippines": (
        "APAC",
        [
            ("15 McCallum Street - #07-01", "Makati City", "", "1227 MM"),
            ("7586 Pompton St.", "Pasig City", "", "1600"),
        ],
        ["+63 2 555 ####", "(02) 8555 ####", "63 2 555 ####"],
        ["Victorino", "Cruz"],
        ["Wendy", "José"],
        ["Inc.", "Corp."],
    ),
}
# How many of the sample's customers come from each country (sums to 92, as the original's mix).
SAMPLE_MIX = {
    "USA": 35,
    "France": 12,
    "Germany": 3,
    "Spain": 5,
    "Australia": 5,
    "UK": 5,
    "Italy": 4,
    "Finland": 3,
    "Sweden": 2,
    "Norway": 3,
    "Canada": 3,
    "Denmark": 2,
    "Austria": 2,
    "Switzerland": 1,
    "Belgium": 2,
    "Japan": 2,
    "Singapore": 1,
    "Philippines": 1,
    "Ireland": 1,
}
NAME_WORDS = (
    [
        "Alpine",
        "Atelier",
        "Baltic",
        "Boulevard",
        "Classic",
        "Corporate",
        "Diecast",
        "Euro",
        "Gift",
        "Heritage",
        "Highway",
        "Land of",
        "Mini",
        "Nordic",
        "Petit",
        "Royal",
        "Scale",
        "Signal",
        "Toms",
        "Vitachrome",
        "Auto",
        "Marta's",
        "Motor",
        "Osaka",
        "Québec",
        "Süd",
        "Øresund",
        "Canal",
        "Harbour",
        "Tekni",
    ],
    [
        "Collectables",
        "Model Cars",
        "Replicas",
        "Gifts",
        "Miniatures",
        "Hobbies",
        "Toys",
        "Classics",
        "Souveniers",
        "Wheels",
        "Imports",
        "Distributors",
        "Direct",
        "Garage",
        "Traders",
        "Models",
    ],
)
PRODUCT_LINES = {  # product line -> (number of products, MSRP range)
    "Classic Cars": (38, (35, 214)),
    "Vintage Cars": (24, (33, 170)),
    "Motorcycles": (13, (60, 193)),
    "Planes": (12, (49, 157)),
    "Trucks and Buses": (11, (57, 136)),
    "Ships": (9, (54, 122)),
    "Trains": (3, (58, 100)),
}
STATUS_WEIGHTS = (("Shipped", 920), ("Cancelled", 22), ("Resolved", 20), ("Disputed", 6))


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str
    address1: str
    address2: str
    city: str
    state: str
    postal: str
    country: str
    territory: str
    last: str
    first: str
    weight: float


@dataclass(frozen=True)
class Product:
    code: str
    line: str
    msrp: int


def _digits(rng: random.Random, pattern: str) -> str:
    return "".join(
        str(rng.randrange(10)) if ch == "#" else str(rng.randrange(2, 10)) if ch == "A" else ch
        for ch in pattern
    )


def _phone(rng: random.Random, formats: list[str]) -> str:
    roll = rng.random()
    base = _digits(rng, rng.choice(formats))
    if roll < 0.03:  # what real exports also hold: extensions, notes, nothing
        return base + rng.choice([" ext. 12", " x204", " (ask for sales)"])
    if roll < 0.045:
        return rng.choice(["", "n/a", "555-CALL-NOW", "0"])
    return base


def make_customers(rng: random.Random, n_customers: int) -> list[Customer]:
    """The sample's country mix for the first 92, then round-robin over the countries."""
    countries = [c for c, n in SAMPLE_MIX.items() for _ in range(n)]
    all_countries = list(COUNTRIES)
    while len(countries) < n_customers:
        countries.append(all_countries[len(countries) % len(all_countries)])
    countries = countries[:n_customers]
    used: set[str] = set()
    per_country: dict[str, int] = {}
    customers = []
    for i, country in enumerate(countries):
        territory, addresses, phones, lasts, firsts, suffixes = COUNTRIES[country]
        while True:
            name = f"{rng.choice(NAME_WORDS[0])} {rng.choice(NAME_WORDS[1])} {rng.choice(suffixes)}"
            if len(used) >= 4000:  # large benchmark files: names need a number to stay unique
                name = f"{name} {i}"
            if name not in used:
                used.add(name)
                break
        j = per_country[country] = per_country.get(country, -1) + 1
        street, city, state, postal = addresses[j % len(addresses)]
        # Once a country's streets are used up, further customers share a building (another suite):
        # a shared street address is what the geocoding cache is for.
        address2 = "" if j < len(addresses) else f"Suite {rng.randrange(100, 999)}"
        # Heavy-tailed buying: a few heavy buyers among many occasional ones.
        weight = rng.paretovariate(1.6)
        customers.append(
            Customer(
                name,
                _phone(rng, phones),
                street,
                address2,
                city,
                state,
                postal,
                country,
                territory,
                rng.choice(lasts),
                rng.choice(firsts),
                weight,
            )
        )
    if n_customers >= 3:  # the original's two standout accounts
        for idx, boost in ((0, 45.0), (SAMPLE_MIX["USA"], 30.0)):
            if idx < n_customers:
                c = customers[idx]
                customers[idx] = Customer(**{**c.__dict__, "weight": c.weight + boost})
    return customers


def make_products(rng: random.Random) -> list[Product]:
    products, seen = [], set()
    for line, (count, (low, high)) in PRODUCT_LINES.items():
        for _ in range(count):
            while True:
                code = f"S{rng.choice([10, 12, 18, 24, 32, 50, 700, 72])}_{rng.randrange(1000, 5000)}"
                if code not in seen:
                    seen.add(code)
                    break
            products.append(Product(code, line, rng.randrange(low, high + 1)))
    return products


def _status(rng: random.Random, day: date, last_day: date) -> str:
    if (last_day - day).days < 45:  # the newest orders are still being handled
        return rng.choice(["In Process", "In Process", "On Hold", "Shipped"])
    if (last_day - day).days < 120 and rng.random() < 0.05:
        return "On Hold"
    labels, weights = zip(*STATUS_WEIGHTS, strict=True)
    return rng.choices(labels, weights)[0]


def _deal_size(sales: float) -> str:
    return "Small" if sales < 3000 else "Medium" if sales < 7000 else "Large"


def _order_days(rng: random.Random, n_orders: int) -> list[date]:
    """Order dates over the span, busier every November as in the original data."""
    span = (LAST_DAY - FIRST_DAY).days
    days = []
    while len(days) < n_orders:
        day = FIRST_DAY + timedelta(days=rng.randrange(span + 1))
        if day.month in (10, 11) or rng.random() < 0.45:
            days.append(day)
    return sorted(days)


def generate_rows(
    n_lines: int = SAMPLE_LINES,
    seed: int = SAMPLE_SEED,
    n_customers: int | None = None,
    first_order_number: int = 10100,
) -> Iterator[list[str]]:
    """Yield exactly ``n_lines`` order lines (lists of 25 strings, in COLUMNS order)."""
    rng = random.Random(seed)
    n_customers = n_customers or SAMPLE_CUSTOMERS
    customers = make_customers(rng, n_customers)
    products = make_products(rng)
    n_orders = max(1, n_lines // 11)  # orders average 10 lines: the planned ones all fit, the rest are extra
    days = _order_days(rng, n_orders)
    weights = [c.weight for c in customers]
    # Every customer orders at least once; the rest of the orders follow the buying weights.
    buyers = list(range(min(n_customers, n_orders))) + rng.choices(
        range(n_customers), weights, k=max(0, n_orders - n_customers)
    )
    rng.shuffle(buyers)
    emitted, i = 0, 0
    while emitted < n_lines:
        if i < len(days):
            day, c = days[i], customers[buyers[i]]
        else:  # the line count asks for more orders than planned: add some on random days
            day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
            c = rng.choices(customers, weights)[0]
        order_no = first_order_number + i
        i += 1
        status = _status(rng, day, LAST_DAY)
        size = min(max(1, round(rng.triangular(1, 18, 11))), n_lines - emitted)
        for line_no, p in enumerate(rng.sample(products, size), start=1):
            qty = max(6, min(97, round(rng.gauss(35, 10))))
            price = round(p.msrp * rng.uniform(0.78, 1.18), 2)
            sales = round(qty * price, 2)
            line = {
                "ORDERNUMBER": str(order_no),
                "QUANTITYORDERED": str(qty),
                "PRICEEACH": f"{price:.2f}",
                "ORDERLINENUMBER": str(line_no),
                "SALES": f"{sales:.2f}",
                "ORDERDATE": f"{day.month}/{day.day}/{day.year} 0:00",
                "STATUS": status,
                "QTR_ID": str((day.month - 1) // 3 + 1),
                "MONTH_ID": str(day.month),
                "YEAR_ID": str(day.year),
                "PRODUCTLINE": p.line,
                "MSRP": str(p.msrp),
                "PRODUCTCODE": p.code,
                "CUSTOMERNAME": c.name,
                "PHONE": c.phone,
                "ADDRESSLINE1": c.address1,
                "ADDRESSLINE2": c.address2,
                "CITY": c.city,
                "STATE": c.state,
                "POSTALCODE": c.postal,
                "COUNTRY": c.country,
                "TERRITORY": c.territory,
                "CONTACTLASTNAME": c.last,
                "CONTACTFIRSTNAME": c.first,
                "DEALSIZE": _deal_size(sales),
            }
            yield [line[name] for name in COLUMNS]
            emitted += 1


def write_csv(
    path: str | Path,
    n_lines: int = SAMPLE_LINES,
    seed: int = SAMPLE_SEED,
    n_customers: int | None = None,
    first_order_number: int = 10100,
    encoding: str = ENCODING,
) -> Path:
    """Write an export like the original: header, CRLF line ends, legacy code page."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(generate_rows(n_lines, seed, n_customers, first_order_number))
    tmp.replace(path)
    return path
