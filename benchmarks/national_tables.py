"""The fixed tables behind ``synthetic_national.py``: the police.uk street CSV columns, the
forces of England and Wales (approximate boxes, shares and towns), crime types, outcomes,
street labels and a coarse outline of England and Wales."""

from __future__ import annotations

STREET_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip

#: slug, name, (lon_min, lat_min, lon_max, lat_max), share of national crime (per cent),
#: main towns (lon, lat). Boxes and shares are approximate but in the right places.
FORCES: tuple[tuple[str, str, tuple[float, float, float, float], float,
                    tuple[tuple[float, float], ...]], ...] = (
    ("avon-and-somerset", "Avon and Somerset Constabulary", (-3.85, 50.82, -2.24, 51.68), 2.6,
     ((-2.59, 51.45), (-2.36, 51.38), (-3.10, 51.02), (-2.97, 51.35))),
    ("bedfordshire", "Bedfordshire Police", (-0.71, 51.80, -0.15, 52.33), 1.0,
     ((-0.42, 51.88), (-0.47, 52.14))),
    ("cambridgeshire", "Cambridgeshire Constabulary", (-0.50, 52.00, 0.52, 52.75), 1.3,
     ((0.12, 52.20), (-0.24, 52.57))),
    ("cheshire", "Cheshire Constabulary", (-3.12, 52.95, -1.97, 53.48), 1.6,
     ((-2.58, 53.39), (-2.89, 53.19), (-2.44, 53.10))),
    ("city-of-london", "City of London Police", (-0.113, 51.507, -0.073, 51.523), 0.1,
     ((-0.092, 51.514),)),
    ("cleveland", "Cleveland Police", (-1.45, 54.46, -0.79, 54.73), 1.2,
     ((-1.23, 54.57), (-1.21, 54.69))),
    ("cumbria", "Cumbria Constabulary", (-3.64, 54.04, -2.16, 55.19), 0.5,
     ((-2.93, 54.89), (-3.23, 54.11), (-2.74, 54.33))),
    ("derbyshire", "Derbyshire Constabulary", (-2.03, 52.69, -1.17, 53.54), 1.6,
     ((-1.48, 52.92), (-1.42, 53.24))),
    ("devon-and-cornwall", "Devon & Cornwall Police", (-5.72, 49.96, -2.88, 51.25), 2.0,
     ((-4.14, 50.38), (-3.53, 50.72), (-3.53, 50.46), (-5.05, 50.26))),
    ("dorset", "Dorset Police", (-2.96, 50.51, -1.68, 51.08), 0.8,
     ((-1.88, 50.72), (-1.98, 50.72), (-2.44, 50.61))),
    ("durham", "Durham Constabulary", (-2.36, 54.45, -1.24, 54.92), 1.2,
     ((-1.57, 54.78), (-1.55, 54.52))),
    ("dyfed-powys", "Dyfed-Powys Police", (-5.33, 51.59, -2.95, 52.90), 0.6,
     ((-4.16, 51.68), (-4.08, 52.41), (-3.38, 52.51))),
    ("essex", "Essex Police", (-0.02, 51.45, 1.30, 52.10), 3.2,
     ((0.71, 51.54), (0.47, 51.74), (0.90, 51.89), (0.46, 51.57))),
    ("gloucestershire", "Gloucestershire Constabulary", (-2.69, 51.58, -1.61, 52.11), 0.8,
     ((-2.24, 51.86), (-2.08, 51.90))),
    ("greater-manchester", "Greater Manchester Police", (-2.73, 53.33, -1.91, 53.69), 6.5,
     ((-2.24, 53.48), (-2.43, 53.58), (-2.10, 53.54), (-2.63, 53.55), (-2.16, 53.41))),
    ("gwent", "Gwent Police", (-3.35, 51.50, -2.65, 51.98), 1.0,
     ((-2.99, 51.59), (-3.03, 51.65))),
    ("hampshire", "Hampshire Constabulary", (-1.96, 50.57, -0.73, 51.38), 3.2,
     ((-1.40, 50.91), (-1.09, 50.80), (-1.09, 51.27), (-1.31, 51.06))),
    ("hertfordshire", "Hertfordshire Constabulary", (-0.75, 51.60, 0.20, 52.08), 1.7,
     ((-0.40, 51.66), (-0.21, 51.90), (-0.34, 51.75))),
    ("humberside", "Humberside Police", (-1.10, 53.43, 0.15, 54.18), 1.8,
     ((-0.33, 53.74), (-0.08, 53.57), (-0.65, 53.59))),
    ("kent", "Kent Police", (0.03, 50.91, 1.45, 51.49), 3.4,
     ((0.52, 51.27), (0.53, 51.38), (1.08, 51.28), (1.31, 51.13), (0.26, 51.13))),
    ("lancashire", "Lancashire Constabulary", (-3.08, 53.48, -2.05, 54.24), 2.7,
     ((-2.70, 53.76), (-3.05, 53.82), (-2.48, 53.75), (-2.24, 53.79), (-2.80, 54.05))),
    ("leicestershire", "Leicestershire Police", (-1.60, 52.39, -0.43, 52.98), 1.8,
     ((-1.13, 52.64), (-1.20, 52.77))),
    ("lincolnshire", "Lincolnshire Police", (-0.82, 52.64, 0.36, 53.62), 1.1,
     ((-0.54, 53.23), (-0.02, 52.98), (-0.64, 52.91))),
    ("merseyside", "Merseyside Police", (-3.20, 53.30, -2.57, 53.70), 2.7,
     ((-2.98, 53.41), (-3.03, 53.39), (-2.74, 53.45), (-3.01, 53.65))),
    ("metropolitan", "Metropolitan Police Service", (-0.51, 51.29, 0.33, 51.69), 16.0,
     ((-0.13, 51.51), (-0.10, 51.46), (-0.07, 51.55), (-0.27, 51.51), (0.01, 51.54),
      (-0.10, 51.37), (-0.20, 51.42), (-0.30, 51.58), (0.06, 51.45), (-0.42, 51.52))),
    ("norfolk", "Norfolk Constabulary", (0.15, 52.35, 1.75, 52.99), 1.3,
     ((1.30, 52.63), (1.73, 52.61), (0.40, 52.75))),
    ("north-wales", "North Wales Police", (-4.77, 52.75, -2.72, 53.44), 1.1,
     ((-2.99, 53.05), (-3.83, 53.32), (-4.13, 53.23))),
    ("north-yorkshire", "North Yorkshire Police", (-2.57, 53.62, -0.21, 54.56), 1.0,
     ((-1.08, 53.96), (-1.54, 53.99), (-0.40, 54.28))),
    ("northamptonshire", "Northamptonshire Police", (-1.33, 51.98, -0.34, 52.64), 1.3,
     ((-0.90, 52.24), (-0.70, 52.40))),
    ("northumbria", "Northumbria Police", (-2.69, 54.78, -1.34, 55.81), 2.6,
     ((-1.61, 54.98), (-1.38, 54.91), (-1.44, 55.00), (-1.60, 54.95))),
    ("nottinghamshire", "Nottinghamshire Police", (-1.35, 52.79, -0.67, 53.50), 2.0,
     ((-1.15, 52.95), (-1.20, 53.14))),
    ("south-wales", "South Wales Police", (-4.33, 51.38, -3.07, 51.82), 2.3,
     ((-3.18, 51.48), (-3.94, 51.62), (-3.38, 51.75))),
    ("south-yorkshire", "South Yorkshire Police", (-1.83, 53.30, -0.87, 53.66), 3.2,
     ((-1.47, 53.38), (-1.13, 53.52), (-1.48, 53.55), (-1.36, 53.43))),
    ("staffordshire", "Staffordshire Police", (-2.47, 52.42, -1.58, 53.23), 1.7,
     ((-2.18, 53.00), (-2.12, 52.81), (-1.63, 52.80))),
    ("suffolk", "Suffolk Constabulary", (0.34, 51.93, 1.77, 52.55), 1.0,
     ((1.15, 52.06), (0.71, 52.25), (1.75, 52.48))),
    ("surrey", "Surrey Police", (-0.85, 51.07, 0.06, 51.47), 1.5,
     ((-0.57, 51.24), (-0.56, 51.32), (-0.20, 51.35))),
    ("sussex", "Sussex Police", (-0.96, 50.72, 0.87, 51.17), 2.7,
     ((-0.14, 50.83), (-0.37, 50.82), (-0.19, 51.11), (0.28, 50.77), (0.57, 50.86))),
    ("thames-valley", "Thames Valley Police", (-1.72, 51.33, -0.48, 52.20), 3.9,
     ((-0.97, 51.45), (-1.26, 51.75), (-0.76, 52.04), (-0.59, 51.51), (-0.81, 51.82))),
    ("warwickshire", "Warwickshire Police", (-1.97, 52.00, -1.17, 52.69), 0.9,
     ((-1.47, 52.52), (-1.26, 52.37), (-1.58, 52.29))),
    ("west-mercia", "West Mercia Police", (-3.24, 51.83, -1.76, 52.99), 2.0,
     ((-2.22, 52.19), (-2.75, 52.71), (-2.72, 52.06), (-2.45, 52.68))),
    ("west-midlands", "West Midlands Police", (-2.21, 52.35, -1.42, 52.66), 6.0,
     ((-1.90, 52.48), (-1.51, 52.41), (-2.13, 52.59), (-1.98, 52.51), (-1.98, 52.59))),
    ("west-yorkshire", "West Yorkshire Police", (-2.17, 53.52, -1.20, 53.96), 6.4,
     ((-1.55, 53.80), (-1.75, 53.79), (-1.78, 53.65), (-1.50, 53.68), (-1.86, 53.72))),
    ("wiltshire", "Wiltshire Police", (-2.37, 50.95, -1.48, 51.70), 1.0,
     ((-1.78, 51.56), (-1.79, 51.07), (-2.00, 51.35))),
)
BTP = ("btp", "British Transport Police", 1.2)

#: police.uk street-level crime types and their rough national shares (per cent).
CATEGORIES = {
    "Violence and sexual offences": 31.0, "Anti-social behaviour": 22.0,
    "Criminal damage and arson": 8.0, "Public order": 7.0, "Shoplifting": 6.0,
    "Other theft": 6.0, "Vehicle crime": 6.0, "Burglary": 4.5, "Drugs": 2.7,
    "Other crime": 2.3, "Robbery": 1.2, "Theft from the person": 1.3, "Bicycle theft": 1.2,
    "Possession of weapons": 0.8,
}  # fmt: skip
OUTCOMES = (
    "Investigation complete; no suspect identified", "Unable to prosecute suspect",
    "Under investigation", "Status update unavailable", "Awaiting court outcome",
    "Local resolution", "Offender given a caution", "Court result unavailable",
    "Action to be taken by another organisation",
    "Further investigation is not in the public interest",
)  # fmt: skip
STREETS = (
    "High Street", "Station Road", "Church Street", "Park Road", "London Road", "Victoria Road",
    "Green Lane", "Manor Road", "Church Lane", "Park Avenue", "The Avenue", "Queens Road",
    "New Road", "Grange Road", "Kings Road", "Market Place", "Mill Lane", "North Street",
    "Albert Road", "Shopping Area", "Parking Area", "Supermarket", "Petrol Station",
    "Nightclub", "Sports/Recreation Area", "Hospital", "Further/Higher Educational Building",
    "Bus/Coach Station", "Conference/Exhibition Centre", "Theatre/Concert Hall",
)  # fmt: skip
#: Share of rows with no location (blank coordinates), as in the bulk files.
MISSING_SHARE = 0.07

#: A coarse outline of England and Wales (lon, lat), clockwise from Land's End.
ENGLAND_WALES_OUTLINE = (
    (-5.72, 50.05), (-5.20, 49.96), (-4.10, 50.33), (-3.64, 50.22), (-3.40, 50.60),
    (-2.90, 50.70), (-2.45, 50.52), (-1.95, 50.68), (-1.30, 50.57), (-0.80, 50.72),
    (-0.10, 50.80), (0.25, 50.73), (0.98, 50.91), (1.40, 51.13), (1.45, 51.38), (0.90, 51.50),
    (0.75, 51.53), (1.20, 51.80), (1.35, 51.95), (1.76, 52.48), (1.30, 52.93), (0.50, 52.95),
    (0.20, 52.80), (0.35, 53.15), (0.10, 53.55), (0.12, 53.60), (-0.08, 54.12),
    (-0.60, 54.49), (-1.17, 54.69), (-1.36, 54.91), (-1.60, 55.40), (-2.00, 55.80),
    (-2.20, 55.60), (-3.10, 55.05), (-3.50, 54.90), (-3.65, 54.50), (-3.25, 54.10),
    (-2.90, 54.05), (-3.05, 53.80), (-3.10, 53.55), (-3.10, 53.35), (-3.40, 53.34),
    (-3.85, 53.33), (-4.35, 53.42), (-4.70, 53.30), (-4.75, 52.80), (-4.10, 52.40),
    (-4.70, 52.10), (-5.30, 51.88), (-5.10, 51.68), (-4.70, 51.67), (-3.95, 51.58),
    (-3.70, 51.48), (-3.15, 51.45), (-2.95, 51.55), (-2.65, 51.60), (-3.00, 51.35),
    (-3.50, 51.20), (-4.55, 51.00), (-4.95, 50.55), (-5.50, 50.22),
)  # fmt: skip

#: The Welsh forces (their LSOA codes start with W01).
WALES = {"dyfed-powys", "gwent", "north-wales", "south-wales"}
