Feature: Who may connect QuickBooks Online
  Find the QBO integration and click Connect. If the Connect button is greyed out, your account
  either does not have the Manage Integrations permission activated, or you are using a freemium
  or legacy account. The integration comes with the Time & Billing license.
  (docs/rules.md: the gates are checked plan, license, permission, one connection, and only the
  first that fails is reported.)

  @R1
  Scenario: A staff member without Manage Integrations finds Connect greyed out
    Given the firm and QBO company of the "gate_no_permission" scenario
    When the team member "staff" opens the Integrations page
    Then the QBO Connect button is greyed out because of "missing_permission"

  @R1
  Scenario: A staff member who tries to connect anyway is refused and nothing is stored
    Given the firm and QBO company of the "gate_no_permission" scenario
    When the team member "staff" clicks Connect anyway
    Then the connect attempt is refused with HTTP 403 and the reason "missing_permission"
    And no QBO connection is stored for the firm
    And Canopy holds no integration for the firm

  @R1
  Scenario: The Admin, who has Manage Integrations, may connect
    Given the firm and QBO company of the "gate_no_permission" scenario
    When the Admin opens the Integrations page
    Then the QBO Connect button is enabled
    When the Admin clicks Connect
    Then QBO's sign-in pop-up opens for Canopy's QBO app

  @R2
  Scenario Outline: A <plan> account cannot connect, whatever the permissions of its Admin
    Given the firm and QBO company of the "<scenario>" scenario
    When the Admin opens the Integrations page
    Then the QBO Connect button is greyed out because of "plan_not_eligible"
    When the Admin clicks Connect anyway
    Then the connect attempt is refused with HTTP 403 and the reason "plan_not_eligible"
    And no QBO connection is stored for the firm

    Examples:
      | plan     | scenario      |
      | freemium | gate_freemium |
      | legacy   | gate_legacy   |

  @R3
  Scenario: A team member without the Time & Billing license cannot connect, even with Manage Integrations
    Given the firm and QBO company of the "gate_no_license" scenario
    When the team member "unlicensed" opens the Integrations page
    Then the QBO Connect button is greyed out because of "missing_license"
    When the team member "unlicensed" clicks Connect anyway
    Then the connect attempt is refused with HTTP 403 and the reason "missing_license"
    And no QBO connection is stored for the firm

  @R3
  Scenario: The member of a Transcripts and Notices standalone firm passes the license gate (interpretation D-1)
    Given the firm and QBO company of the "gate_tn_standalone" scenario
    When the Admin opens the Integrations page
    Then the QBO Connect button is enabled
    When the Admin clicks Connect
    And the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect
    And QBO sends the browser back to Canopy
    And the Admin accepts the data-sharing agreement
    Then the firm is connected to its QBO company by the Admin
