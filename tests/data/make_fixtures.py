"""Writes the small dataset fixtures under tests/data/fixtures (original and shared formats).

Run once from the repository root: python tests/data/make_fixtures.py. The files are committed; the
script documents how they were made. Every dataset exists in both formats with the same content, so the
tests can check that both give the same SequenceDataset. `original/` holds the public formats
(GroupLens ratings.dat / u.data, Amazon reviews JSON, KuaiRand CSV), `shared/` the ../shared/data ones.
"""

import json
import os

ROOT = os.path.join(os.path.dirname(__file__), "fixtures")

# (user, movie, rating, timestamp): written in a non-chronological file order on purpose.
ML_RATINGS = [
  (1, 10, 5, 300),
  (1, 20, 3, 100),
  (1, 30, 4, 200),
  (1, 40, 2, 400),
  (2, 20, 4, 50),
  (2, 50, 1, 10),
  (2, 10, 5, 30),
  (3, 60, 4, 5),
  (3, 10, 3, 6),
  (3, 30, 5, 7),
  (3, 20, 4, 8),
  (3, 50, 2, 9),
  (4, 10, 4, 1),
  (4, 20, 5, 2),  # 2 interactions: dropped by the leave-one-out rule
]
MOVIES = {
  10: ("Toy Story (1995)", "Animation|Children's|Comedy"),
  20: ("Heat (1995)", "Action|Crime|Thriller"),
  30: ("Casablanca (1942)", "Drama|Romance|War"),
  40: ("Alien (1979)", "Horror|Sci-Fi"),
  50: ("Fargo (1996)", "Crime|Drama|Thriller"),
  60: ("Metropolis (1927)", "Sci-Fi"),
  70: ("Never Rated (1999)", "Comedy"),
}
USERS = {1: ("F", 1, 10), 2: ("M", 56, 16), 3: ("M", 25, 15), 4: ("F", 35, 0)}


def write(path, text, encoding="utf-8"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)


def chronological(rows):
  out = {}
  for u, m, r, t in sorted(rows, key=lambda x: (x[0], x[3])):
    out.setdefault(u, []).append(m)
  return out


def movielens():
  o, s = os.path.join(ROOT, "original"), os.path.join(ROOT, "shared")
  write(f"{o}/ml-1m/ratings.dat", "".join(f"{u}::{m}::{r}::{t}\n" for u, m, r, t in ML_RATINGS))
  movies = "".join(f"{m}::{title}::{g}\n" for m, (title, g) in MOVIES.items())
  users = "".join(f"{u}::{g}::{a}::{o_}::0000{u}\n" for u, (g, a, o_) in USERS.items())
  for root in (o, s):
    write(f"{root}/ml-1m/movies.dat", movies, "latin-1")
    write(f"{root}/ml-1m/users.dat", users)
  write(
    f"{s}/ml-1m/sequences.txt",
    "".join(f"{u} {' '.join(map(str, ms))}\n" for u, ms in chronological(ML_RATINGS).items()),
  )
  # ML-100K: same interactions; GroupLens u.* files and RecBole atomic files.
  genres = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
  )
  write(f"{o}/ml-100k/u.data", "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in ML_RATINGS))
  lines, rec = [], ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"]
  for m, (title, g) in MOVIES.items():
    name, year = title[:-7], title[-5:-1]
    flags = "|".join("1" if x in g.split("|") else "0" for x in genres)
    lines.append(f"{m}|{name}|01-Jan-{year}||http://x|{flags}\n")
    rec.append(f"{m}\t{name}\t{year}\t{' '.join(g.split('|'))}\n")
  write(f"{o}/ml-100k/u.item", "".join(lines), "latin-1")
  write(f"{s}/ml-100k/ml-100k.item", "".join(rec))
  write(
    f"{s}/ml-100k/ml-100k.inter",
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    + "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in ML_RATINGS),
  )
  occupation = {10: "educator", 16: "writer", 15: "scientist", 0: "other"}
  write(f"{o}/ml-100k/u.user", "".join(f"{u}|{a + 3}|{g}|{occupation[x]}|0000{u}\n" for u, (g, a, x) in USERS.items()))
  write(
    f"{s}/ml-100k/ml-100k.user",
    "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    + "".join(f"{u}\t{a + 3}\t{g}\t{occupation[x]}\t0000{u}\n" for u, (g, a, x) in USERS.items()),
  )


# Amazon: (reviewerID, asin, overall, unixReviewTime), file order not chronological.
REVIEWS = [
  ("A1", "B01", 5.0, 30),
  ("A1", "B02", 3.0, 10),
  ("A1", "B03", 4.0, 20),
  ("A2", "B02", 5.0, 5),
  ("A2", "B04", 4.0, 6),
  ("A2", "B01", 2.0, 7),
  ("A2", "B03", 5.0, 8),
  ("A3", "B04", 1.0, 1),
  ("A3", "B03", 4.0, 2),
  ("A3", "B05", 5.0, 3),
]
NAMES = {"B01": "trail running shoes", "B02": "yoga mat", "B03": "camping lantern", "B04": "", "B05": "water bottle"}
ATTRS = {
  "B01": "OPI|Makeup|Nails",
  "B02": "Skin Care|Face",
  "B03": "Maybelline|Makeup|Eyes|Mascara",
  "B04": "Makeup|Lips",
  "B05": "Cococare|Skin Care|Body",
}


def amazon():
  o, s = os.path.join(ROOT, "original"), os.path.join(ROOT, "shared")
  write(
    f"{o}/amazon-toys/reviews_Toys_5.json",
    "".join(
      json.dumps({"reviewerID": u, "asin": a, "overall": r, "unixReviewTime": t, "reviewText": "ok"}) + "\n"
      for u, a, r, t in REVIEWS
    ),
  )
  # The shared layout: ints from 1 in first-appearance order of the chronological per-user lists.
  users, items, seqs = {}, {}, {}
  for u, a, r, t in sorted(REVIEWS, key=lambda x: (x[0], x[3])):
    uid = users.setdefault(u, len(users) + 1)
    seqs.setdefault(uid, []).append(items.setdefault(a, len(items) + 1))
  write(f"{s}/amazon-beauty/Beauty.txt", "".join(f"{u} {' '.join(map(str, v))}\n" for u, v in seqs.items()))
  write(
    f"{s}/amazon-beauty/items.tsv",
    "item_id\tasin\tattributes\tidgenrec_textid\n"
    + "".join(f"{i}\t{a}\t{ATTRS[a]}\ttext {i}\n" for a, i in items.items()),
  )
  write(
    f"{o}/amazon-toys/items.tsv",
    "item_id\tasin\tattributes\tidgenrec_textid\n"
    + "".join(f"{i}\t{a}\t{ATTRS[a]}\ttext {i}\n" for a, i in items.items()),
  )
  # A short folder name beside a file named after the official category, an items.tsv with only the short
  # text column (no attributes), and a .txt that is not interactions (IDGenRec's `ASIN text` lines).
  write(
    f"{s}/amazon-sports/Sports_and_Outdoors.txt", "".join(f"{u} {' '.join(map(str, v))}\n" for u, v in seqs.items())
  )
  write(
    f"{s}/amazon-sports/items.tsv",
    "item_id\tasin\tname\n" + "".join(f"{i}\t{a}\t{NAMES[a]}\n" for a, i in items.items()),
  )
  write(f"{s}/amazon-sports/idgenrec_item_textid.txt", "".join(f"{a} {NAMES[a]}\n" for a in items))


def kuairand():
  s = os.path.join(ROOT, "shared", "kuairand-pure-slice")
  header = (
    "user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,is_forward,is_hate,"
    "long_view,play_time_ms,duration_ms,profile_stay_time,comment_stay_time,is_profile_enter,is_rand,tab\n"
  )
  rows = [
    (7, 100, 1000, 1, 0, 1, 9000, 10000),
    (8, 101, 1001, 0, 1, 0, 500, 20000),
    (7, 102, 1002, 0, 0, 0, 100, 5000),
    (8, 100, 1003, 1, 0, 1, 30000, 10000),
    (7, 101, 1004, 1, 1, 1, 40000, 20000),
    (8, 102, 1005, 0, 0, 0, 0, 5000),
    (9, 100, 1006, 0, 0, 0, 10, 10000),
  ]  # user 9: 1 row, dropped
  write(
    f"{s}/log_standard_4_25_to_5_08_pure.csv",
    header
    + "".join(
      f"{u},{v},20220425,0,{t},{c},{like},0,0,0,0,{lv},{p},{d},0,0,0,0,1\n" for u, v, t, c, like, lv, p, d in rows
    ),
  )
  write(
    f"{s}/video_features_basic_pure.csv",
    "video_id,author_id,video_type,upload_dt,upload_type,visible_status,video_duration,server_width,"
    "server_height,music_id,music_type,tag\n"
    '100,55,NORMAL,2022-04-10,Web,0.0,10000.0,720.0,1280.0,1,9.0,"3,5"\n'
    "101,66,NORMAL,2022-04-10,Kmovie,0.0,20000.0,720.0,1280.0,2,9.0,5\n"
    "102,55,NORMAL,2022-04-10,Web,0.0,5000.0,720.0,1280.0,3,9.0,\n",
  )
  write(
    f"{s}/user_features_pure.csv",
    "user_id,user_active_degree,is_lowactive_period,follow_user_num_range,fans_user_num_range,"
    "friend_user_num_range,register_days_range\n"
    "7,full_active,0,0,0,0,730+\n8,high_active,0,\"(0,10]\",\"[1,10)\",0,730+\n",
  )


if __name__ == "__main__":
  movielens()
  amazon()
  kuairand()
