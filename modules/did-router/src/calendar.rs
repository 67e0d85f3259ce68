//! The little calendar arithmetic the router needs: the day before a given day.

/// A calendar day with its ISO weekday (1 = Monday .. 7 = Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub weekday: u8,
}

impl Day {
    /// The previous calendar day.
    pub fn previous(self) -> Day {
        let weekday = if self.weekday <= 1 { 7 } else { self.weekday - 1 };
        if self.day > 1 {
            return Day { day: self.day - 1, weekday, ..self };
        }
        let (year, month) =
            if self.month <= 1 { (self.year.saturating_sub(1), 12) } else { (self.year, self.month - 1) };
        Day { year, month, day: days_in_month(year, month), weekday }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_day_rolls_over_months_years_and_leap_days() {
        let d = |year, month, day, weekday| Day { year, month, day, weekday };
        assert_eq!(d(2026, 11, 22, 7).previous(), d(2026, 11, 21, 6));
        assert_eq!(d(2026, 3, 1, 7).previous(), d(2026, 2, 28, 6));
        assert_eq!(d(2024, 3, 1, 5).previous(), d(2024, 2, 29, 4));
        assert_eq!(d(2000, 3, 1, 3).previous(), d(2000, 2, 29, 2));
        assert_eq!(d(1900, 3, 1, 4).previous(), d(1900, 2, 28, 3));
        assert_eq!(d(2027, 1, 1, 5).previous(), d(2026, 12, 31, 4));
        assert_eq!(d(2026, 5, 1, 1).previous(), d(2026, 4, 30, 7));
    }
}
