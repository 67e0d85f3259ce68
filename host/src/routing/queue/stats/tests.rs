//! Queue statistics: live figures in memory, historical ones counted and written in the
//! background, read back whole whether written yet or not.

use super::*;
use crate::store::QUEUE_DAYS;

fn stats() -> (QueueStats, Store) {
    let store = Store::in_memory().unwrap();
    (QueueStats::new(store.clone()), store)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Four callers: two answered (10 s by 101, 20 s by 102), one hung up after 5 s, one
/// timed out after 60 s; a fifth found the queue full.
fn a_morning(stats: &QueueStats) {
    for _ in 0..4 {
        stats.joined("acme", "sales");
    }
    stats.answered("acme", "sales", "101", secs(10));
    stats.answered("acme", "sales", "102", secs(20));
    stats.abandoned("acme", "sales", secs(5));
    stats.unanswered("acme", "sales", secs(60), UnansweredReason::TimedOut);
    stats.unanswered("acme", "sales", Duration::ZERO, UnansweredReason::Full);
}

fn expected_morning() -> HistoricalFigures {
    HistoricalFigures {
        offered: 5,
        answered: 2,
        abandoned: 1,
        unanswered_timed_out: 1,
        unanswered_full: 1,
        average_answer_wait_ms: 15_000,
        average_abandon_wait_ms: 5_000,
        longest_wait_ms: 60_000,
        answered_by: [("101".to_string(), 1), ("102".to_string(), 1)].into(),
    }
}

#[test]
fn callers_count_as_waiting_until_they_leave_and_a_full_queue_turns_them_away_unjoined() {
    let (stats, _) = stats();
    stats.joined("acme", "sales");
    stats.joined("acme", "sales");
    assert_eq!(stats.waiting("acme", "sales"), 2);
    stats.unanswered("acme", "sales", Duration::ZERO, UnansweredReason::Full);
    assert_eq!(stats.waiting("acme", "sales"), 2);
    stats.answered("acme", "sales", "101", Duration::ZERO);
    assert_eq!(stats.waiting("acme", "sales"), 1);
    stats.abandoned("acme", "sales", Duration::ZERO);
    assert_eq!(stats.waiting("acme", "sales"), 0);
    stats.abandoned("acme", "sales", Duration::ZERO);
    assert_eq!(stats.waiting("acme", "sales"), 0, "a stray report never goes below zero");
}

#[test]
fn the_longest_wait_now_is_the_oldest_waiting_callers() {
    let (stats, _) = stats();
    assert_eq!(stats.live("acme", "sales"), LiveFigures { waiting: 0, longest_waiting_ms: 0 });
    stats.joined("acme", "sales");
    std::thread::sleep(Duration::from_millis(30));
    stats.joined("acme", "sales");
    let live = stats.live("acme", "sales");
    assert_eq!(live.waiting, 2);
    assert!(live.longest_waiting_ms >= 30, "{live:?}");
    // The caller who leaves after waiting ~0 s is the second one; the first still waits.
    stats.answered("acme", "sales", "101", Duration::ZERO);
    assert!(stats.live("acme", "sales").longest_waiting_ms >= 30);
}

#[test]
fn historical_figures_add_up_every_way_of_leaving() {
    let (stats, _) = stats();
    a_morning(&stats);
    assert_eq!(stats.historical("acme", "sales", None, None).unwrap(), expected_morning());
}

#[test]
fn figures_read_the_same_before_and_after_they_are_written_and_survive_a_restart() {
    let (stats, store) = stats();
    a_morning(&stats);
    stats.flush().unwrap();
    let today = Utc::now().date_naive();
    let row = store.read(|r| r.get(&QUEUE_DAYS, &queue_day_key("acme", "sales", today))).unwrap().unwrap();
    assert_eq!((row.day, row.answered), (today, 2));
    assert_eq!(stats.historical("acme", "sales", None, None).unwrap(), expected_morning());
    stats.answered("acme", "sales", "101", secs(30));
    assert_eq!(stats.historical("acme", "sales", None, None).unwrap().answered, 3, "stored plus pending");
    stats.flush().unwrap();
    let restarted = QueueStats::new(store);
    let figures = restarted.historical("acme", "sales", None, None).unwrap();
    assert_eq!((figures.answered, figures.average_answer_wait_ms), (3, 20_000));
}

#[test]
fn the_background_writer_stores_figures_by_itself() {
    let (stats, store) = stats();
    stats.joined("acme", "sales");
    let key = queue_day_key("acme", "sales", Utc::now().date_naive());
    let deadline = Instant::now() + FLUSH_INTERVAL * 10;
    while store.read(|r| r.get(&QUEUE_DAYS, &key)).unwrap().is_none() {
        assert!(Instant::now() < deadline, "nothing was written");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_date_range_selects_days() {
    let (stats, _) = stats();
    a_morning(&stats);
    let today = Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(stats.historical("acme", "sales", Some(today), Some(today)).unwrap(), expected_morning());
    stats.flush().unwrap();
    assert_eq!(stats.historical("acme", "sales", None, Some(today)).unwrap(), expected_morning());
    let none = stats.historical("acme", "sales", Some(tomorrow), None).unwrap();
    assert_eq!((none.offered, none.average_answer_wait_ms), (0, 0));
}

#[test]
fn queues_and_companies_keep_their_own_figures() {
    let (stats, _) = stats();
    a_morning(&stats);
    stats.joined("globex", "sales");
    stats.joined("acme", "support");
    assert_eq!(stats.waiting("globex", "sales"), 1);
    assert_eq!(stats.historical("globex", "sales", None, None).unwrap().offered, 1);
    assert_eq!(stats.historical("acme", "support", None, None).unwrap().offered, 1);
    assert_eq!(stats.historical("acme", "sales", None, None).unwrap(), expected_morning());
}

#[test]
fn an_agents_answers_of_today_feed_the_strategy() {
    let (stats, _) = stats();
    assert_eq!(stats.agent("acme", "sales", "101"), AgentFigures::default());
    stats.answered("acme", "sales", "101", secs(1));
    stats.flush().unwrap();
    let before = Utc::now();
    stats.answered("acme", "sales", "101", secs(1));
    let figures = stats.agent("acme", "sales", "101");
    assert_eq!(figures.answered_today, 2, "stored and pending");
    assert!(figures.last_answered_at.is_some_and(|at| at >= before), "{figures:?}");
    assert_eq!(stats.agent("acme", "sales", "102"), AgentFigures::default());
}

#[test]
fn a_forgotten_queue_loses_its_live_and_unwritten_figures() {
    let (stats, _) = stats();
    a_morning(&stats);
    stats.joined("acme", "sales");
    stats.forget("acme", "sales");
    assert_eq!(stats.waiting("acme", "sales"), 0);
    assert_eq!(stats.historical("acme", "sales", None, None).unwrap().offered, 0);
}
