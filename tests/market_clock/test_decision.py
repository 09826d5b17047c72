"""The pure decision: every phase transition and edge, no chain."""

from __future__ import annotations

from dataclasses import replace

from market_clock.clock import describe_end, hold_until, next_action, windows
from market_clock.model import (
    ChainView,
    CloseGame,
    CloseRegistration,
    EndReason,
    FixTrades,
    GameView,
    OpenGame,
    Phase,
    Plan,
    SettlementView,
    SkipTurn,
    Wait,
)

PLAN = Plan(
    period=900,
    registration=120,
    delivery=900,
    round_limit=20,
    turn_seconds=30,
    epsilon_wh=10,
    metering=60,
    chunk=50,
)
T0 = 1_800_000_000  # the first game's start


def game(
    gid: int = 1, phase: Phase = Phase.REGISTRATION, start: int = T0, **kw: object
) -> GameView:
    base = GameView(
        id=gid,
        phase=phase,
        registration_end=start + 120,
        delivery_end=start + 1020,
        round_limit=20,
        turn_seconds=30,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def view(*games: GameView) -> ChainView:
    return ChainView(
        game_count=max((g.id for g in games), default=0),
        games=games,
        latest=games[-1] if games else None,
    )


def bidding(
    gid: int = 1, start: int = T0, deadline: int = T0 + 150, rnd: int = 1, turn: int = 0
) -> GameView:
    return game(
        gid,
        Phase.BIDDING,
        start,
        sellers=2,
        buyers=3,
        round=rnd,
        turn=turn,
        turn_deadline=deadline,
        current_buyer="0x" + "ab" * 20,
    )


def ended(
    gid: int = 1,
    start: int = T0,
    reason: EndReason = EndReason.CONVERGED,
    settlement: SettlementView | None = None,
) -> GameView:
    return game(gid, Phase.ENDED, start, end_reason=reason, round=4, settlement=settlement)


# ---------------------------------------------------------------------------- opening


def test_no_game_yet_opens_one_now() -> None:
    action = next_action(view(), T0, PLAN)
    assert action == OpenGame(T0, T0 + 120, T0 + 1020, 20, 30, 10)
    assert action.params == (T0 + 120, T0 + 1020, 20, 30, 10)


def test_next_game_is_due_one_period_after_the_latest_start() -> None:
    v = view(ended())
    assert next_action(v, T0 + 899, PLAN) == Wait(T0 + 900, idle=True)
    assert next_action(v, T0 + 900, PLAN) == OpenGame(T0 + 900, T0 + 1020, T0 + 1920, 20, 30, 10)


def test_a_little_late_keeps_the_cadence() -> None:
    action = next_action(view(ended()), T0 + 930, PLAN)
    assert isinstance(action, OpenGame)
    assert action.start == T0 + 900 and action.registration_end == T0 + 1020


def test_after_a_long_outage_the_schedule_restarts_from_now() -> None:
    now = T0 + 5 * 900 + 7
    action = next_action(view(ended()), now, PLAN)
    assert isinstance(action, OpenGame)
    assert action.start == now and action.registration_end == now + 120


def test_games_overlap_a_new_one_opens_while_the_last_is_bidding() -> None:
    action = next_action(view(bidding(deadline=T0 + 2000)), T0 + 900, PLAN)
    assert isinstance(action, OpenGame) and action.start == T0 + 900


def test_may_not_open_waits_for_nothing_when_all_is_done() -> None:
    plan = replace(PLAN, may_open=False)
    assert plan.next_open(view(ended())) is None
    assert next_action(view(ended()), T0 + 10_000, plan) == Wait(None, idle=True)
    assert next_action(view(), T0, plan) == Wait(None, idle=True)


# ---------------------------------------------------------------------------- registration


def test_registration_waits_for_its_end_then_closes() -> None:
    v = view(game())
    assert next_action(v, T0 + 119, PLAN) == Wait(T0 + 120, idle=False)
    assert next_action(v, T0 + 120, PLAN) == CloseRegistration(1)
    assert next_action(v, T0 + 5000, PLAN) == CloseRegistration(1)


# ---------------------------------------------------------------------------- bidding


def test_a_turn_is_skipped_only_after_its_deadline() -> None:
    v = view(bidding(deadline=T0 + 150, rnd=2, turn=1))
    assert next_action(v, T0 + 150, PLAN) == Wait(T0 + 151, idle=False)
    assert next_action(v, T0 + 151, PLAN) == SkipTurn(1, "0x" + "ab" * 20, 2, T0 + 150)


def test_a_turn_is_skipped_as_soon_as_the_delivery_end_comes() -> None:
    # The delivery end bounds bidding: the skip is due then, whatever the deadline says
    # (the market caps deadlines at deliveryEnd - 1; the clock does not rely on it).
    end, plan = T0 + 1020, replace(PLAN, may_open=False)
    v = view(bidding(deadline=end + 500, rnd=7, turn=2))
    assert next_action(v, end - 1, plan) == Wait(end, idle=False)
    assert next_action(v, end, plan) == SkipTurn(1, "0x" + "ab" * 20, 7, end - 1)
    capped = view(bidding(deadline=end - 1, rnd=7, turn=2))  # as the market sets it
    assert next_action(capped, end, plan) == SkipTurn(1, "0x" + "ab" * 20, 7, end - 1)


def test_oldest_game_first() -> None:
    v = view(bidding(1, deadline=T0 + 950), game(2, start=T0 + 900))
    assert next_action(v, T0 + 1020, PLAN) == SkipTurn(1, "0x" + "ab" * 20, 1, T0 + 950)


def test_earliest_pending_time_is_waited_for() -> None:
    v = view(bidding(1, deadline=T0 + 1000), game(2, start=T0 + 900))
    assert next_action(v, T0 + 950, PLAN) == Wait(T0 + 1001, idle=False)


# ---------------------------------------------------------------------------- ended


def test_ended_games_need_nothing_without_settlement() -> None:
    for reason in (EndReason.CONVERGED, EndReason.ROUND_LIMIT, EndReason.NO_PARTICIPANTS):
        g = ended(reason=reason)
        assert g.done
        assert next_action(view(g), T0 + 200, PLAN) == Wait(T0 + 900, idle=True)


def test_settlement_fixes_trades_then_closes_after_delivery_and_metering() -> None:
    open_ = SettlementView(fixed=False, closed=False)
    assert next_action(view(ended(settlement=open_)), T0 + 200, PLAN) == FixTrades(1, 50)
    g = replace(
        ended(settlement=SettlementView(fixed=True, closed=False, fixed_at=T0 + 190, readings=4)),
        sellers=2,
        buyers=3,
    )
    assert not g.done
    quiet = replace(PLAN, may_open=False)
    assert next_action(view(g), T0 + 200, PLAN) == Wait(T0 + 900, idle=True)
    # Until the delivery end nobody acts: jump there; then the meters' window is not idle.
    assert next_action(view(g), T0 + 200, quiet) == Wait(T0 + 1020, idle=True)
    assert next_action(view(g), T0 + 1020, quiet) == Wait(T0 + 1080, idle=False)
    assert next_action(view(g), T0 + 1079, quiet) == Wait(T0 + 1080, idle=False)
    assert next_action(view(g), T0 + 1080, quiet) == CloseGame(1, 50)
    closed = ended(settlement=SettlementView(fixed=True, closed=True))
    assert closed.done
    assert next_action(view(closed), T0 + 1100, quiet) == Wait(None, idle=True)


def test_once_every_reading_is_in_the_game_closes_without_waiting_out_the_window() -> None:
    def fixed(readings: int) -> GameView:
        return replace(
            ended(
                settlement=SettlementView(
                    fixed=True, closed=False, fixed_at=T0 + 190, readings=readings
                )
            ),
            sellers=2,
            buyers=3,
        )

    quiet = replace(PLAN, may_open=False)
    assert next_action(view(fixed(4)), T0 + 1030, quiet) == Wait(T0 + 1080, idle=False)
    assert next_action(view(fixed(5)), T0 + 1030, quiet) == CloseGame(1, 50)
    # ... but never before the delivery end (the contract refuses that too)
    assert next_action(view(fixed(5)), T0 + 1019, quiet) == Wait(T0 + 1020, idle=True)


def test_trades_fixed_after_the_delivery_end_give_the_meters_their_whole_window() -> None:
    # Bidding ran long: the trades were fixed 500 s after the delivery end (T0 + 1020).
    late = replace(
        ended(settlement=SettlementView(fixed=True, closed=False, fixed_at=T0 + 1520, readings=1)),
        sellers=2,
        buyers=3,
    )
    quiet = replace(PLAN, may_open=False)
    assert PLAN.metering_start(late) == T0 + 1520
    assert next_action(view(late), T0 + 1521, quiet) == Wait(T0 + 1580, idle=False)
    assert windows(view(late), T0 + 1521, quiet) == {("metering", 1): T0 + 1579}
    assert next_action(view(late), T0 + 1580, quiet) == CloseGame(1, 50)


def test_a_meters_window_holds_simulated_time_for_its_own_longer_grace() -> None:
    g = replace(
        ended(settlement=SettlementView(fixed=True, closed=False, fixed_at=T0 + 190)),
        sellers=2,
        buyers=3,
    )
    key: tuple[object, ...] = ("metering", 1)
    now = T0 + 1021
    # held 31 s before the window's last second (T0 + 1079): Anvil's own clock runs on
    assert (
        hold_until(view(g), now, PLAN, {key: 0.0}, 20.0, grace=1.0, meter_grace=30.0)
        == T0 + 1079 - 31
    )
    assert hold_until(view(g), now, PLAN, {key: 0.0}, 20.0, grace=1.0) is None  # no meter grace
    assert hold_until(view(g), now, PLAN, {key: 0.0}, 30.5, grace=1.0, meter_grace=30.0) is None


def test_without_a_metering_window_close_right_at_delivery_end() -> None:
    g = ended(settlement=SettlementView(fixed=True, closed=False))
    plan = replace(PLAN, may_open=False, metering=0)
    assert next_action(view(g), T0 + 1019, plan) == Wait(T0 + 1020, idle=True)
    assert next_action(view(g), T0 + 1020, plan) == CloseGame(1, 50)


def test_a_game_without_participants_is_settled_like_any_other() -> None:
    g = ended(
        reason=EndReason.NO_PARTICIPANTS, settlement=SettlementView(fixed=False, closed=False)
    )
    assert next_action(view(g), T0 + 121, PLAN) == FixTrades(1, 50)


def test_describe_end() -> None:
    assert describe_end(ended()) == "Game 1 ended: converged after 4 rounds"
    assert describe_end(ended(reason=EndReason.ROUND_LIMIT)) == (
        "Game 1 ended: round limit after 4 rounds"
    )
    assert describe_end(replace(ended(reason=EndReason.NO_PARTICIPANTS), buyers=2)) == (
        "Game 1 ended: no participants (0 sellers, 2 buyers)"
    )
    assert describe_end(ended(reason=EndReason.TIME_LIMIT)) == (
        "Game 1 ended: time limit, delivery end reached in round 4"
    )
    assert describe_end(replace(ended(reason=EndReason.TIME_LIMIT), round=0)) == (
        "Game 1 ended: time limit, delivery end reached before the first turn"
    )


# ---------------------------------------------------------------------------- holds


def test_windows_are_registration_current_turn_and_metering() -> None:
    fixed = SettlementView(fixed=True, closed=False)
    v = view(
        game(1),
        bidding(2, deadline=T0 + 500, rnd=3, turn=2),
        ended(3),
        ended(4, start=T0 - 1000, settlement=fixed),
    )
    # game 4: delivery ended at T0 + 20, the meters have until T0 + 79
    assert windows(v, T0 + 30, PLAN) == {
        ("registration", 1): T0 + 119,
        ("turn", 2, 3, 2): T0 + 500,
        ("metering", 4): T0 + 79,
    }
    assert ("metering", 4) not in windows(v, T0 + 80, PLAN)
    assert ("metering", 4) not in windows(v, T0 + 19, PLAN)


def test_a_turn_window_ends_before_the_delivery_end() -> None:
    v = view(bidding(deadline=T0 + 5_000, rnd=3, turn=1))
    assert windows(v, T0 + 1000, PLAN) == {("turn", 1, 3, 1): T0 + 1019}
    seen: dict[tuple[object, ...], float] = {("turn", 1, 3, 1): 0.0}
    assert hold_until(v, T0 + 1000, PLAN, seen, 0.5, grace=1.0) == T0 + 1019 - 2


def test_a_new_window_holds_time_for_the_grace() -> None:
    v = view(bidding(deadline=T0 + 150))
    key: tuple[object, ...] = ("turn", 1, 1, 0)
    now = T0 + 130
    assert hold_until(v, now, PLAN, {key: 10.0}, 10.4, grace=1.0) == T0 + 150 - 2
    assert hold_until(v, now, PLAN, {key: 10.0}, 11.0, grace=1.0) is None  # grace over
    assert hold_until(v, now, PLAN, {}, 99.0, grace=1.0) == T0 + 148  # first seen right now
    assert hold_until(v, now, PLAN, {key: 10.0}, 10.1, grace=0.0) is None


def test_the_tightest_window_holds() -> None:
    v = view(game(1, start=T0), bidding(2, deadline=T0 + 100))
    seen: dict[tuple[object, ...], float] = {("registration", 1): 0.0, ("turn", 2, 1, 0): 0.0}
    assert hold_until(v, T0 + 50, PLAN, seen, 0.5, grace=2.5) == T0 + 100 - 4
