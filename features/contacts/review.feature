Feature: Reviewing the contacts before they sync
  Click through each navigation item on the left to check your contact sync information.
  Alternatively, you can click Next to cycle through navigation items. Once all navigation items
  are complete, click Sync contacts. If your import exceeds 300 records, the view is paginated.

  @R10
  Scenario: A section of more than 300 records is shown in pages of 300
    Given the Admin of the "contacts_over_300" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    Then each review section has as many pages as the ground truth says for "All"
    When the Admin reads every page of every review section
    Then no page shows more than 300 records and the pages together show each section whole
    And the review sections hold exactly the records the ground truth puts in them for "All"

  @R10
  Scenario: Sync contacts is refused until every section was opened, the empty ones included
    Given the Admin of the "contacts_matching" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens the "matches" section
    And the Admin opens the "new_contacts" section
    And the Admin opens the "unmatched" section
    Then the review shows only the sections "matches", "new_contacts" and "unmatched" as opened
    When the Admin clicks Sync contacts
    Then Sync contacts is refused with HTTP 409 and the reason "sections_not_opened"
    When the Admin opens the "duplicates" section
    Then the review shows only the sections "matches", "new_contacts", "unmatched" and "duplicates" as opened
    When the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"

  @R10
  Scenario: Opening any page of a section counts as opening it
    Given the Admin of the "contacts_over_300" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens page 2 of the "matches" section
    Then the page shows records 301 to 320 of the "matches" section
    And the review shows only the section "matches" as opened

  @R10
  Scenario: Next cycles through the sections in order and then lets the contacts sync
    Given the Admin of the "contacts_matching" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin clicks Next
    Then Next opens the "matches" section
    When the Admin clicks Next
    Then Next opens the "new_contacts" section
    When the Admin clicks Next
    Then Next opens the "unmatched" section
    When the Admin clicks Next
    Then Next opens the "duplicates" section
    And the review shows only the sections "matches", "new_contacts", "unmatched" and "duplicates" as opened
    When the Admin clicks Next
    Then Next is refused with HTTP 409 and the reason "no_next_section"
    When the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"

  @R10
  Scenario: Choosing the import again starts the review over (interpretation D-42)
    Given the Admin of the "contacts_matching" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin chooses to import "Active" contacts
    And the Admin clicks Sync contacts
    Then Sync contacts is refused with HTTP 409 and the reason "sections_not_opened"
