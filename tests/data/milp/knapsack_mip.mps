* A 4-item 0/1 knapsack with an objective constant, one integer and one ranged row.
* max 10a + 13b + 7c + 8d + 1k + 5  s.t.  4a + 6b + 3c + 5d + 2k <= 10,
*     2 <= a + b + c + d <= 3 (ranged row), a..d binary, 0 <= k <= 3 integer.
* Optimum: a = b = 1, c = d = k = 0, value 23 + 5 = 28.
NAME          KNAPMIP
OBJSENSE
    MAX
ROWS
 N  value
 L  cap
 G  count
COLUMNS
    MARKER                 'MARKER'                 'INTORG'
    a         value     10             cap       4
    a         count     1
    b         value     13             cap       6
    b         count     1
    c         value     7              cap       3
    c         count     1
    d         value     8              cap       5
    d         count     1
    k         value     1              cap       2
    MARKER                 'MARKER'                 'INTEND'
RHS
    RHS       cap       10             count     2
    RHS       value     -5
RANGES
    RNG       count     1
BOUNDS
 BV BND       a
 BV BND       b
 BV BND       c
 BV BND       d
 UP BND       k         3
ENDATA
