Feature: Matching Canopy contacts with QBO customers by name
  Names of your Canopy contacts should match the names of your QBO contacts.
  (docs/rules.md R6: only the name counts, compared after normalising it, interpretation D-2.)

  @R6
  Scenario: Names match whatever their case and white space, and despite QBO's " (deleted)" suffix (interpretation D-2)
    Given the Admin of the "contacts_matching" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin reads every page of every review section
    Then the review sections hold exactly the records the ground truth puts in them for "All"
    And the Matches section pairs the contacts whose QBO names differ only in case or white space
    And the Matches section pairs the contacts whose QBO customers are inactive and named with " (deleted)"

  @R6
  Scenario: An inactive customer does not match when only Active contacts are imported
    Given the Admin of the "contacts_matching" firm has connected its QBO company
    When the Admin chooses to import "Active" contacts
    And the Admin reads every page of every review section
    Then the review sections hold exactly the records the ground truth puts in them for "Active"
