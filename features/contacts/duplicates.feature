Feature: Duplicate contacts are not synced
  Duplicate Contacts will NOT be synced.
  (docs/rules.md R7: a name is a duplicate when two Canopy contacts or two QBO customers carry it,
  or when a QBO vendor or employee already uses it, interpretation D-3.)

  @R7
  Scenario: Every contact and customer with a duplicate name is listed under Duplicates (interpretation D-3)
    Given the Admin of the "contacts_duplicates" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin reads every page of every review section
    Then the review sections hold exactly the records the ground truth puts in them for "All"
    And the Duplicates section lists the Canopy contacts that share one name
    And the Duplicates section lists the QBO customers that share one name
    And the Duplicates section lists the Canopy contacts named like a QBO vendor
    And the Duplicates section lists the Canopy contacts named like a QBO employee

  @R7
  Scenario: Duplicates are neither linked nor created when the contacts are synced
    Given the Admin of the "contacts_duplicates" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"
    And no contact or customer the ground truth calls a duplicate for "All" was linked or created
    And QBO holds no new customer
