"""Demo volunteers, modelled on the seed (shared/seeds): the 心连心 federation of 80 teams, about
1 000 volunteers in 10 communities, 400 past activities with confirmed service, a rewards catalogue,
and the demo volunteer 13800000001 (password: the demo password).

History is written with bulk inserts (it is demo history, not actions: no audit rows), priced by the
same DMN rules as real confirmations. Idempotent: nothing happens when the federation exists.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.models import User
from ..privacy.crypto import blind_index
from .accounts import COMMUNITIES
from .ledger import earned_year_of
from ..reports.periods import SHANGHAI
from .models import Activity, Federation, LedgerEntry, Organiser, Redemption, Reward, Signup, Team, Volunteer
from .rules import current_rules, service_points

DEMO_PHONE = "13800000001"
DEMO_ORGANISERS = {"organiser": "和平社区"}
FEDERATION = "心连心公益组织联合会"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强海燕春梅"
TEAM_KINDS = ("银龄助老队", "应急救援队", "环境守护队", "文明劝导队", "治安巡逻队", "邻里互助队", "文化宣传队", "青年突击队")
ACTIVITY_KINDS = (("助老陪伴·上门探访", "elderly_care"), ("应急演练保障", "emergency"), ("楼道环境整治", "environment"),
                  ("夜间治安巡逻", "patrol"), ("惠民服务大集", "general"), ("福乐讲堂", "culture"),
                  ("幸福银龄助餐", "elderly_care"), ("防汛值守", "emergency"))
REWARDS = (("食用油 5L", "goods", 60, 80, 200), ("大米 10kg", "goods", 50, 60, 300), ("洗衣液", "goods", 20, 25, 500),
           ("毛巾礼盒", "goods", 15, 20, 400), ("中医理疗一次（社区卫生服务中心）", "medical", 40, 100, 150),
           ("免费体检套餐（社区卫生服务中心）", "medical", 120, 300, 60), ("口腔检查（社区卫生服务中心）", "medical", 30, 80, 100),
           ("理发服务券", "goods", 10, 20, 300))


def assign_demo_organisers(session: Session) -> None:
    """The demo organiser's community (called by app/seed.py; safe to run again)."""
    for username, community in DEMO_ORGANISERS.items():
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is not None and session.get(Organiser, user_id) is None:
            session.add(Organiser(user_id=user_id, community=community))


def seed_volunteers(core, volunteers: int = 1000, teams: int = 80, activities: int = 400, seed: int = 13) -> dict:
    from ..seed import DEMO_PASSWORD
    rng = random.Random(seed)
    now = utcnow()
    hasher = PasswordHasher()
    with core.db.unit_of_work() as session:
        if session.scalar(select(Federation.id).where(Federation.name == FEDERATION)):
            return {"created": False}
        rules = current_rules(core, session)
        federation = Federation(name=FEDERATION, created_at=now - timedelta(days=200))
        session.add(federation)
        session.flush()
        team_rows = []
        for i in range(teams):
            community = COMMUNITIES[i % len(COMMUNITIES)]
            team_rows.append({"federation_id": federation.id, "community": community, "active": True,
                              "name": f"{community}{TEAM_KINDS[(i // len(COMMUNITIES)) % len(TEAM_KINDS)]}",
                              "created_at": now - timedelta(days=190 - i)})
        session.execute(insert(Team), team_rows)
        team_ids = {c: [] for c in COMMUNITIES}
        for tid, community in session.execute(select(Team.id, Team.community)):
            team_ids[community].append(tid)
        # One hash for every demo volunteer: argon2 is slow on purpose, and they share the demo password.
        shared_hash = hasher.hash(DEMO_PASSWORD)
        rows = []
        for i in range(volunteers):
            phone = DEMO_PHONE if i == 0 else f"139{i:08d}"
            community = "和平社区" if i == 0 else COMMUNITIES[i % len(COMMUNITIES)]
            name = "张志愿" if i == 0 else rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
            rows.append({"name": name, "phone": phone,
                         "phone_index": blind_index(phone), "password_hash": shared_hash, "community": community,
                         "skills": rng.choice(("", "医护", "驾驶", "法律", "心理疏导", "电工", "摄影")),
                         "team_id": rng.choice(team_ids[community]), "active": True, "session_version": 0,
                         "registered_at": now - timedelta(days=rng.randint(1, 180))})
        session.execute(insert(Volunteer.__table__), rows)  # the column types encrypt name and phone
        by_community = {c: [] for c in COMMUNITIES}
        for vid, community in session.execute(select(Volunteer.id, Volunteer.community)):
            by_community[community].append(vid)
        signups, entries = [], []
        activity_rows = []
        for i in range(activities):
            community = COMMUNITIES[i % len(COMMUNITIES)]
            title, kind = ACTIVITY_KINDS[rng.randrange(len(ACTIVITY_KINDS))]
            start = (now - timedelta(days=rng.randint(2, 180))).replace(minute=0, second=0, microsecond=0)
            start = start.replace(hour=rng.choice((0, 1, 2, 6, 7)))  # 08:00–15:00 Shanghai
            length = timedelta(hours=rng.choice((1, 2, 2, 3)))
            activity_rows.append({"title": f"{community}{title}", "type": kind, "place": f"{community}党群服务中心",
                                  "community": community, "team_id": rng.choice(team_ids[community]),
                                  "starts_at": start, "ends_at": start + length, "capacity": 30,
                                  "points_rule": "standard", "status": "published", "qr_session": 0,
                                  "created_by": "organiser", "created_at": start - timedelta(days=3)})
        session.execute(insert(Activity), activity_rows)
        acts = session.execute(select(Activity.id, Activity.community, Activity.type, Activity.starts_at,
                                      Activity.ends_at)).all()
        prices: dict = {}
        for aid, community, kind, start, end in acts:
            people = rng.sample(by_community[community], k=min(len(by_community[community]), rng.randint(8, 25)))
            if community == "和平社区" and by_community[community][0] not in people and rng.random() < 0.3:
                people.append(by_community[community][0])
            hours = (end - start).total_seconds() / 3600
            if (kind, hours) not in prices:
                prices[(kind, hours)] = service_points(core, rules, kind, hours)
            counted, points = prices[(kind, hours)]
            for vid in people:
                signups.append({"activity_id": aid, "volunteer_id": vid, "signed_up_at": start - timedelta(days=1),
                                "checked_in_at": start, "checked_out_at": end, "confirmed_at": end,
                                "confirmed_by": "organiser", "hours": counted, "rating": "good", "rating_note": "",
                                "rated_by": "organiser"})
                entries.append({"volunteer_id": vid, "kind": "credit", "points": points, "reason": "service",
                                "activity_id": aid, "earned_year": earned_year_of(start), "rule_version": rules.version,
                                "confirmed_by": "organiser", "note": f"{counted:g} 小时", "at": end})
        if signups:  # an empty list would insert one row of defaults
            session.execute(insert(Signup), signups)
            session.execute(insert(LedgerEntry), entries)
        session.execute(insert(Reward), [{"name": n, "kind": k, "points_price": p, "money_value": m, "stock": s,
                                          "description": "", "active": True} for n, k, p, m, s in REWARDS])
        redeemed = _past_redemptions(core, session, rng, entries, now)
        return {"created": True, "teams": teams, "volunteers": volunteers, "activities": activities,
                "signups": len(signups), "ledger_entries": len(entries), "redemptions": redeemed,
                "demo_volunteer": DEMO_PHONE}


def _past_redemptions(core, session: Session, rng: random.Random, entries: list[dict], now) -> int:
    """Handed-over redemptions of the last quarter, for the reports' redeemed points and money value.

    Each row carries the state of a real finished run of volunteer_redemption.bpmn (applied, approved,
    handed over: one run through the engine, its state reused), and its reservation debit. A volunteer
    redeems at most once, only what they had earned by then; the demo volunteer keeps this quarter free."""
    from ..errors import BihuanError
    from .redemption import PROCESS, _bundle, quarter_of
    try:
        version_id, bundle = _bundle(core, session)
    except BihuanError:
        return 0  # the deployed version predates the redemption process: no history to show
    wf = core.engine.start(bundle, PROCESS, {"applied_at": now.isoformat(timespec="seconds"), "points": 10,
                                             "quarter_count": 0})
    for data in ({"decision": "approve"}, {"handover_note": "demo"}):
        core.engine.complete(bundle, wf, core.engine.ready_tasks(bundle, wf)[0].id, data)
    state = core.engine.dump(wf)
    rewards = list(session.execute(select(Reward.id, Reward.points_price, Reward.money_value)))
    local = now.astimezone(SHANGHAI)
    quarter_start = datetime(local.year, 3 * ((local.month - 1) // 3) + 1, 1, tzinfo=SHANGHAI)
    demo_id = session.scalar(select(Volunteer.id).where(Volunteer.phone_index == blind_index(DEMO_PHONE)))
    earned: dict[int, list] = {}
    for entry in entries:
        earned.setdefault(entry["volunteer_id"], []).append((entry["at"], entry["points"]))
    rows, debits = [], []
    for vid in sorted(earned):
        if vid == demo_id or rng.random() > 0.45:
            continue
        applied = quarter_start - timedelta(days=rng.randint(3, 85), hours=rng.randint(0, 8))
        have = sum(p for at, p in earned[vid] if at < applied)
        affordable = [r for r in rewards if r.points_price <= have]
        if not affordable:
            continue
        reward = rng.choice(affordable)
        rows.append({"volunteer_id": vid, "reward_id": reward.id, "community": "", "quantity": 1,
                     "points": reward.points_price, "money_value": reward.money_value, "quarter": quarter_of(applied),
                     "status": "handed_over", "reason": "", "applied_at": applied,
                     "finished_at": applied + timedelta(days=2), "handed_over_by": "volunteer_admin",
                     "process_version_id": version_id, "state": state, "current_task": None,
                     "current_task_id": None, "next_timer_at": None, "version": 1})
    if not rows:
        return 0
    communities = dict(session.execute(select(Volunteer.id, Volunteer.community)).all())
    for row in rows:
        row["community"] = communities[row["volunteer_id"]]
    session.execute(insert(Redemption), rows)
    for rid, vid, points, applied in session.execute(select(Redemption.id, Redemption.volunteer_id,
                                                            Redemption.points, Redemption.applied_at)):
        debits.append({"volunteer_id": vid, "kind": "debit", "points": -points, "reason": "redemption_reserve",
                       "redemption_id": rid, "confirmed_by": f"volunteer:{vid}", "note": "", "at": applied})
    session.execute(insert(LedgerEntry), debits)
    return len(rows)
